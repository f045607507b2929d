"""Local servers that behave like the APIs learnerledger talks to, for demos and tests.

``sandbox.xero`` emulates the Xero Accounting API and Xero's identity service; ``seed`` makes
the demo organisation's people. The sandboxes never import the client side of learnerledger,
so that a client bug cannot be mirrored by a sandbox bug.
"""
