"""metareg-plugin-example: one part of every metareg family, as a third-party package writes them.

Each module is one plugin, declared in ``pyproject.toml`` under ``[project.entry-points.metareg]``:
``matchingnet`` (meta-learner), ``mmd`` (adversary slot: a kernel alignment loss), ``resnet12`` (backbone),
``blobs_shift`` (benchmark) and ``class_gaussian`` (generator). Importing this package registers nothing;
metareg imports the modules through their entry points.
"""

__version__ = "0.1.0"
