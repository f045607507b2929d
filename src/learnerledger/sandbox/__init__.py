"""Local servers that behave like the APIs learnerledger talks to, for demos and tests.

``sandbox.xero`` emulates the Xero Accounting API and Xero's identity service,
``sandbox.wisenet`` the Wisenet API; ``seed`` makes the demo organisation's people, and
``commands`` is the ``learnerledger sandbox`` command group. The sandboxes never import the
client side of learnerledger, so that a client bug cannot be mirrored by a sandbox bug.
"""
