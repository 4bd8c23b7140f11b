"""Target chats spread over parser accounts: stable, balanced, capped, nothing lost silently."""

from __future__ import annotations

import pytest

from bots.sharding import MAX_CHATS_PER_ACCOUNT, Move, assign_chats


def test_chats_spread_evenly_with_ties_going_to_the_account_listed_first() -> None:
    result = assign_chats(chats=range(1, 11), accounts=[7, 8, 9])

    assert {account: len(chats) for account, chats in result.by_account.items()} == {
        7: 4,
        8: 3,
        9: 3,
    }
    assert result.moved == [] and result.unassigned == []


def test_cap_of_500_leaves_the_overflow_unassigned_and_reported() -> None:
    chats = list(range(1, 1202))

    result = assign_chats(chats, accounts=[1, 2])

    assert MAX_CHATS_PER_ACCOUNT == 500
    assert [len(result.by_account[1]), len(result.by_account[2])] == [500, 500]
    assert len(result.unassigned) == 201
    placed = set(result.by_account[1]) | set(result.by_account[2])
    assert placed | set(result.unassigned) == set(chats)
    assert not placed & set(result.unassigned)


def test_adding_a_chat_keeps_every_existing_assignment_and_uses_the_least_loaded_account() -> None:
    before = assign_chats(chats=range(1, 6), accounts=[1, 2])

    after = assign_chats(chats=[*range(1, 6), 99], accounts=[1, 2], current=before.owners())

    assert after.by_account[1] == before.by_account[1]
    assert after.by_account[2] == [*before.by_account[2], 99]  # account 2 had one chat fewer
    assert after.moved == []


def test_banned_accounts_chats_move_to_the_others_and_nothing_else_moves() -> None:
    before = assign_chats(chats=range(1, 13), accounts=[1, 2, 3])
    banned = before.by_account[2]

    after = assign_chats(chats=range(1, 13), accounts=[1, 3], current=before.owners())

    assert set(after.by_account) == {1, 3}
    assert set(before.by_account[1]) <= set(after.by_account[1])
    assert set(before.by_account[3]) <= set(after.by_account[3])
    assert sorted(move.chat_id for move in after.moved) == sorted(banned)
    assert all(move.from_account == 2 and move.to_account in (1, 3) for move in after.moved)
    assert abs(len(after.by_account[1]) - len(after.by_account[3])) <= 1


def test_orphaned_chats_that_fit_nowhere_are_unassigned_and_logged_as_moves_to_none() -> None:
    current = {1: 1, 2: 1, 3: 2, 4: 2}

    result = assign_chats(chats=[1, 2, 3, 4], accounts=[1], current=current, cap=2)

    assert result.by_account == {1: [1, 2]}
    assert result.unassigned == [3, 4]
    assert result.moved == [Move(3, 2, None), Move(4, 2, None)]


def test_a_new_account_gets_new_chats_but_existing_ones_are_not_rebalanced_onto_it() -> None:
    before = assign_chats(chats=range(1, 9), accounts=[1, 2])

    after = assign_chats(chats=range(1, 11), accounts=[1, 2, 3], current=before.owners())

    assert after.by_account[3] == [9, 10]
    assert after.moved == []


def test_an_account_over_a_lowered_cap_keeps_its_first_chats_and_hands_on_the_rest() -> None:
    current = dict.fromkeys(range(1, 6), 1)

    result = assign_chats(chats=range(1, 6), accounts=[1, 2], current=current, cap=3)

    assert result.by_account == {1: [1, 2, 3], 2: [4, 5]}
    assert result.moved == [Move(4, 1, 2), Move(5, 1, 2)]


def test_chats_dropped_from_the_campaign_simply_disappear_and_are_not_moves() -> None:
    result = assign_chats(chats=[1], accounts=[1, 2], current={1: 1, 2: 2})

    assert result.by_account == {1: [1], 2: []}
    assert result.moved == []


def test_no_accounts_leaves_every_chat_unassigned() -> None:
    result = assign_chats(chats=[3, 1, 2], accounts=[])

    assert result.by_account == {} and result.unassigned == [3, 1, 2]


def test_same_input_gives_the_same_assignment_and_duplicates_are_ignored() -> None:
    chats = [5, 3, 9, 3, 1, 7, 5]
    current = {9: 2, 1: 4}

    first = assign_chats(chats, accounts=[2, 4, 6, 4], current=current)
    second = assign_chats(list(chats), accounts=[2, 4, 6], current=dict(current))

    assert first == second
    assert sum(len(c) for c in first.by_account.values()) == 5


def test_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cap must be at least 1"):
        assign_chats(chats=[1], accounts=[1], cap=0)


def test_chats_carried_for_other_campaigns_count_towards_balance_and_cap() -> None:
    # account 1 already listens in 3 chats for another campaign: these 3 even it out on account 2
    result = assign_chats([10, 11, 12], [1, 2], carried={1: 3})
    assert result.by_account == {1: [], 2: [10, 11, 12]}
    capped = assign_chats([20, 21], [1, 2], cap=2, carried={1: 2, 2: 1})
    assert capped.by_account == {1: [], 2: [20]}
    assert capped.unassigned == [21]
