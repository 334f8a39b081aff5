"""BTrees split into shards, so that concurrent signups and confirmations do not collide.

Inserting into a BTree marks every inner node on the way down as "read current": if another
transaction changed one of them meanwhile (a bucket split changes its parent), the commit
fails with a ReadConflictError. In one big tree every split thus fails every concurrent
insert, and a burst of signups (a poster, a newsletter) keeps failing and retrying. Here each
index is 64 independent trees chosen by a stable hash of the key: a split disturbs only the
transactions that wrote to the same shard, and concurrent inserts into one bucket are still
merged by BTrees' conflict resolution. The shard list itself is never written after creation.

The fan-out indexes use buckets of 250 entries instead of 30: a fan-out reads all of them,
and loading a ZODB object costs far more than reading one more entry from it.

These classes are stored by their dotted names: keep them here.
"""

import zlib

from BTrees.OOBTree import OOBTree
from BTrees.OOBTree import OOTreeSet
from persistent import Persistent

SHARDS = 64
FANOUT_BUCKET_SIZE = 250


def shard_of(key):
    """0..63, the same in every process (unlike hash(), which Python salts per process)."""
    text = key if isinstance(key, str) else "\x1f".join(map(str, key))
    return zlib.crc32(text.encode("utf-8")) % SHARDS


class LargeBucketTree(OOBTree):
    max_leaf_size = FANOUT_BUCKET_SIZE


class LargeBucketTreeSet(OOTreeSet):
    max_leaf_size = FANOUT_BUCKET_SIZE


class ShardedTree(Persistent):
    """A mapping spread over SHARDS BTrees. Iteration goes shard by shard, not in key order.

    Every shard holds a ``floor`` key that sorts before all real keys and is never removed.
    BTrees' conflict resolution refuses to merge a change that removes the first key of a
    bucket or empties it; with the floor in place, the buckets of small shards (pending
    tokens come and go all the time) never lose their first key, and two confirmations that
    remove different tokens from one bucket merge instead of conflicting.
    """

    tree_class = OOBTree
    floor = ""  # for string keys; tuple keys need ()

    def __init__(self):
        self.shards = tuple(self.tree_class() for _ in range(SHARDS))
        for shard in self.shards:
            shard[self.floor] = None

    def _shard(self, key):
        return self.shards[shard_of(key)]

    def get(self, key, default=None):
        if key is None or key == self.floor:
            return default
        return self._shard(key).get(key, default)

    def __getitem__(self, key):
        if key == self.floor:
            raise KeyError(key)
        return self._shard(key)[key]

    def __setitem__(self, key, value):
        if key == self.floor:
            raise KeyError(key)
        self._shard(key)[key] = value

    def __delitem__(self, key):
        if key == self.floor:
            raise KeyError(key)
        del self._shard(key)[key]

    def __contains__(self, key):
        return key is not None and key != self.floor and key in self._shard(key)

    def items(self):
        for shard in self.shards:
            yield from shard.items(self.floor, excludemin=True)

    def keys(self):
        for shard in self.shards:
            yield from shard.keys(self.floor, excludemin=True)

    def values(self):
        for shard in self.shards:
            yield from shard.values(self.floor, excludemin=True)

    def misplaced(self):
        """Keys stored in the wrong shard, plus shards without their floor: ought to be 0."""
        return _misplaced(self.shards, self.floor, lambda shard: shard.keys())


class ShardedSet(Persistent):
    """A set of strings spread over SHARDS TreeSets, with a floor like ``ShardedTree``, and
    sharded alike: a key lands in shard number i of both (the fan-out joins them by shard)."""

    tree_class = OOTreeSet
    floor = ""

    def __init__(self):
        self.shards = tuple(self.tree_class() for _ in range(SHARDS))
        for shard in self.shards:
            shard.add(self.floor)

    def add(self, key):
        if key == self.floor:
            raise KeyError(key)
        self.shards[shard_of(key)].add(key)

    def remove(self, key):
        if key == self.floor:
            raise KeyError(key)
        self.shards[shard_of(key)].remove(key)

    def __contains__(self, key):
        return key != self.floor and key in self.shards[shard_of(key)]

    def __iter__(self):
        for shard in self.shards:
            yield from shard.keys(self.floor, excludemin=True)

    def misplaced(self):
        return _misplaced(self.shards, self.floor, lambda shard: shard.keys())


def _misplaced(shards, floor, keys_of):
    wrong = 0
    for number, shard in enumerate(shards):
        keys = list(keys_of(shard))
        if not keys or keys[0] != floor:
            wrong += 1
        wrong += sum(1 for key in keys[1:] if shard_of(key) != number)
    return wrong


class AddressIndex(ShardedTree):
    """(channel, address) -> subscriber id."""

    floor = ()


class RecipientMap(ShardedTree):
    """Active subscriber id -> "channel address language mode": read whole by fan-outs."""

    tree_class = LargeBucketTree


class TopicMembers(ShardedSet):
    """The ids of the active subscribers of one topic."""

    tree_class = LargeBucketTreeSet
