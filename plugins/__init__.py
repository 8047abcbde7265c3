"""metareg's built-in plugins, each found through the ``metareg`` entry-point group like any third-party plugin."""
