"""The plugin host: what a part is and how one is found.

Owns the hook specs a plugin implements (``hookspecs``), the five families in the order a run builds them
(``families``), the ranges a part's settings declare (``ranges``), the contract each family's base class states
(``contracts/``), discovery of parts through the ``metareg`` entry-point group with its errors and near-miss names
(``registry``), and the runtime checks that run a part on probe inputs against its contract (``conformance/``).
Everything above it (a run, a grid, the board, the commands) reaches a part only through the registry; the host
depends on nothing above it except that conformance reads the train settings a benchmark may default.
"""
