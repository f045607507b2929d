from learnerledger.text import count


def test_count_says_one_and_many_properly() -> None:
    assert count(1, "call") == "1 call"
    assert count(0, "call") == "0 calls"
    assert count(12_345, "learner") == "12,345 learners"
    assert count(2, "person", "people") == "2 people"
