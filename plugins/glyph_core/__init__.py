"""The glyph core: drawing characters from installed fonts and caching the result, shared by ``glyphs`` and
``glyph-world``.

Not a plugin (it registers nothing and has no entry point): a library both glyph benchmarks build on through these
public modules only, so neither reaches into the other. One idea each: ``fonts`` (which files, which characters each
really draws), ``draw`` (one glyph and its jittered copies), ``faces`` (every font's plain glyphs, placeholders
dropped), ``homoglyphs`` (characters that draw the same), ``cache`` (arrays cached under the sha256 of their recipe),
``rows`` (each class's rows) and ``names`` (alphabet lists in a config).
"""
