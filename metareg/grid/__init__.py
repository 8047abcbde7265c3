"""The grid: many runs, planned, claimed and executed.

Owns expanding suite blocks and selector lists into planned cells with their skips (``expand``), the shipped and
user suites (``suites``), the runner that claims each cell in the store and records how it ended (``runner``,
``cell_states``), the executors that run cells in this process, a process pool or Ray (``executors``), running
one claimed cell wherever an executor put it (``cell``), and the progress a long grid shows (``progress``).
"""
