"""Pure data and rules, importing nothing else of learnerledger: learners (and, later, contacts
and documents)."""

from learnerledger.domain.learner import Address, Learner, is_valid_email

__all__ = ["Address", "Learner", "is_valid_email"]
