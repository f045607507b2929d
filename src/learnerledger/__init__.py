"""learnerledger: keeps a training organisation's SMS and its Xero organisation in step."""

__version__ = "0.1.0"

__all__ = ["__version__"]
