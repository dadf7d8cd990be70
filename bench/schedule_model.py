#!/usr/bin/env python3
"""A model of the Hopper template's persistent grid (fwd_sm90.cuh): `sms` CTAs take work tiles
from a counter in the kernel's order, each as soon as it is free (greedy list scheduling), and
a tile takes one unit per key tile it visits (causal: q-tile i of n visits i + 1 key tiles of
the q-tile's width) plus `--epilogue` units. Prints the makespan of the pair-by-pair order
(ATTNC_SM90_WORK_GROUP=1) and of groups of G pairs taken q-tile by q-tile (sm90WorkTile), as a
percentage above the ideal (the total work over the SMs). No GPU: it says how much of a causal
kernel's time the order can cost, not what the GPU does.

    python3 bench/schedule_model.py [--sms 132] [--epilogue 0.3]
"""
import argparse
import heapq


def makespan(durations, sms):
    free = [0.0] * sms
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def order(pairs, num_m, group):
    """(pair, q-tile) in sm90WorkTile's order."""
    group = max(group, 1)
    for w in range(pairs * num_m):
        first = w // (num_m * group) * group
        in_group = w - first * num_m
        size = min(group, pairs - first)
        yield first + in_group % size, num_m - 1 - in_group // size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sms", type=int, default=132)
    ap.add_argument("--epilogue", type=float, default=0.3,
                    help="units a tile costs beyond its keys")
    a = ap.parse_args()
    # (label, (head, batch) pairs, q-tiles per pair, the host's group for it)
    rows = [("B4 H16 S4096 D128 causal (128-row tiles)", 64, 32, 8),
            ("B4 H16 S4096 D64 causal (192-row tiles)", 64, 22, 16),
            ("B4 H16 S4096 D256 causal (128-row tiles)", 64, 32, 4),
            ("B4 Hq32 Hkv8 S4096 D128 causal (GQA)", 128, 32, 32),
            ("B1 H16 S16384 D128 causal", 16, 128, 2)]
    for label, pairs, num_m, host in rows:
        def cost(m):
            return m + 1 + a.epilogue
        ideal = pairs * sum(cost(m) for m in range(num_m)) / a.sms
        line = []
        for g in (1, host, 4, 16):
            span = makespan([cost(m) for _, m in order(pairs, num_m, g)], a.sms)
            line.append("G=%d%s %+.1f%%" % (g, " (host)" if g == host else "",
                                            100 * (span / ideal - 1)))
        print("%-42s %s" % (label, ", ".join(dict.fromkeys(line))))


if __name__ == "__main__":
    main()
