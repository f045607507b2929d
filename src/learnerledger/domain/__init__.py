"""Pure data and rules, importing nothing else of learnerledger: learners, the mirrored
contacts and documents (Decimal money), and, later, more."""

from learnerledger.domain.documents import DOCUMENT_KINDS, MirroredDocument
from learnerledger.domain.learner import Address, Learner, is_valid_email
from learnerledger.domain.mirror import ContactIndex, MirroredContact

__all__ = [
    "DOCUMENT_KINDS",
    "Address",
    "ContactIndex",
    "Learner",
    "MirroredContact",
    "MirroredDocument",
    "is_valid_email",
]
