"""The best monotone assignment of prose blocks to questions, and how sure each choice is.

Blocks come in notebook order; each gets one label: no question, or one question. Students answer
in the questions' order, so moving on to a later question costs a little, going back to an earlier
one costs much more (a penalty, not a ban: some students do answer out of order), and staying on
the same question costs nothing. The state of the dynamic programme is the last question answered.

Max-marginals (the best total with one block forced to one label) come from a forward and a
backward pass; a block's margin is how much worse the best alignment gets when that block loses
its label. That margin, not a fixed number per kind of marker, is what a located answer's
confidence means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SWITCH = 1.0
SKIP = 0.4  # per question passed over: most students answer every question in turn
BACK = 5.0
RESTART = 5.0  # a heading that starts question k after text already given to k: that text was not k's
MID_CELL = 0.5  # an answer starting inside a cell, under no heading: students mostly start one in a new cell


@dataclass(frozen=True)
class Alignment:
    labels: tuple[int, ...]  # per block: -1 for no question, else the question's index
    margins: tuple[float, ...]  # per block: best total minus the best total without this block's label
    total: float


def transition_costs(skips: np.ndarray) -> np.ndarray:
    """costs[s, j]: from state s (0 = nothing answered yet, k + 1 = last answered question k) to question j.

    ``skips[k]`` is what passing over question k (leaving it unanswered) costs on the way.
    """
    questions = len(skips)
    passed = np.concatenate(([0.0], np.cumsum(skips)))
    last = np.arange(questions + 1)[:, None] - 1
    target = np.arange(questions)[None, :]
    forward = SWITCH + passed[target] - passed[last + 1]
    return np.where(target > last, forward, np.where(target < last, SWITCH + BACK, 0.0))


def align(
    scores: np.ndarray,
    marked: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    skips: np.ndarray | None = None,
    continuing: np.ndarray | None = None,
) -> Alignment:
    """``scores[b, 0]``: block b is no answer; ``scores[b, k + 1]``: block b answers question k.

    ``marked[b, k]``: block b's heading says question k's answer starts here. Passing over
    unanswered questions to get there is then free, unless a question list just asked for them
    (their skip above ``SKIP``), and continuing k into it costs a restart
    (the text given to k before was not k's). ``closed[b, k]``: k's answer cannot start at block b
    (it is marked elsewhere); it can still continue there. ``skips[b, k]``: what leaving question k
    unanswered costs when moving on at block b (``SKIP`` by default). ``continuing[b]``: block b
    goes on the previous block's cell with no heading of its own; moving on there costs ``MID_CELL`` more.
    """
    blocks, labels = scores.shape
    questions = labels - 1
    if blocks == 0:
        return Alignment((), (), 0.0)
    marked = np.zeros((blocks, questions), dtype=bool) if marked is None else marked
    closed = np.zeros((blocks, questions), dtype=bool) if closed is None else closed
    skips = np.full((blocks, questions), SKIP) if skips is None else skips
    continuing = np.zeros(blocks, dtype=bool) if continuing is None else continuing
    diagonal = np.arange(questions)
    states = questions + 1
    forward = np.full((blocks + 1, states), -np.inf)
    forward[0, 0] = 0.0
    costs = []
    for b in range(blocks):
        asked = transition_costs(np.maximum(skips[b] - SKIP, 0.0))  # only what a question list asked for
        block_costs = np.where(marked[b][None, :], asked, transition_costs(skips[b]))
        block_costs += MID_CELL * continuing[b]
        block_costs[:, closed[b]] = np.inf
        block_costs[diagonal + 1, diagonal] = np.where(marked[b], RESTART, 0.0)
        costs.append(block_costs)
        forward[b + 1] = _step(forward[b], scores[b], block_costs)
    backward = np.zeros((blocks + 1, states))
    for b in range(blocks - 1, -1, -1):
        stay = scores[b, 0] + backward[b + 1]
        move = (scores[b, 1:] + backward[b + 1, 1:])[None, :] - costs[b]
        backward[b] = np.maximum(stay, move.max(axis=1))
    best = float(forward[blocks].max())
    chosen, margins = [], []
    for b in range(blocks):
        marginals = _marginals(forward[b], backward[b + 1], scores[b], costs[b])
        label = int(np.argmax(marginals))
        runner_up = float(np.max(np.delete(marginals, label)))
        chosen.append(label - 1)
        margins.append(float(marginals[label]) - runner_up)
    return Alignment(tuple(chosen), tuple(margins), best)


def _step(previous: np.ndarray, score: np.ndarray, costs: np.ndarray) -> np.ndarray:
    stay = previous + score[0]
    move = (previous[:, None] - costs + score[1:][None, :]).max(axis=0)
    return np.concatenate(([stay[0]], np.maximum(stay[1:], move)))


def _marginals(previous: np.ndarray, after: np.ndarray, score: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """The best total with this block given each label: none, then each question."""
    none = (previous + score[0] + after).max()
    answer = (previous[:, None] - costs).max(axis=0) + score[1:] + after[1:]
    return np.concatenate(([none], answer))
