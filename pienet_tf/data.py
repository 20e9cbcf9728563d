"""PieNet's data: photos retouched by several users, as ((images, user_ids), targets) batches.

Source strings:

    DIR[@LIST]           FiveK's layout: DIR/input/ holds the photos and every other folder of DIR is a
                         user (expert_a ... expert_e) holding its retouched versions, matched to the
                         inputs by file name stem. With @LIST only the inputs named in the text file LIST
                         are used (common/data.py's list files), e.g. `fivek@fivek/test.txt`; a user
                         need not have retouched every photo.
    demo:styles[:SPLIT]  the demo photos (common/demo.py, split train|test) retouched by each preset of
                         pienet_tf/styles.py, one user per preset.

A user's samples are its (input, retouched) pairs. Files are read by `common.data.read`, so an unreadable
file is named and skipped (or fatal), and resizing, crops and flips are common/data.py's.
"""

import dataclasses
import os

import tensorflow as tf

from common import data, demo
from pienet_tf import styles

DEMO = "demo:styles"
INPUT_FOLDER = "input"


@dataclasses.dataclass(frozen=True)
class Source:
    """A parsed source: a FiveK-style folder `root` (with an optional list file), or the demo split."""
    root: str = ""
    listing: str = ""
    split: str = ""

    @property
    def is_demo(self):
        return bool(self.split)

    @property
    def inputs(self):
        """The input folder as a common.data DIR[@LIST] entry."""
        folder = os.path.join(self.root, INPUT_FOLDER)
        return f"{folder}@{self.listing}" if self.listing else folder


def parse_source(text):
    """Parse a source string (see the module docstring); a ValueError says what is wrong."""
    if isinstance(text, Source):
        return text
    if text.startswith("demo:"):
        name, _, split = text[len("demo:"):].partition(":")
        if f"demo:{name}" != DEMO:
            raise ValueError(f"PieNet's demo data is {DEMO}[:train|test], not {text!r}")
        split = split or "train"
        demo.files(split)  # a ValueError naming the splits if there is no such split
        return Source(split=split)
    if data.parse_source(text).kind != "folder":  # checks that the folder and list file exist
        raise ValueError(f"{text!r}: PieNet's data is DIR[@LIST] (DIR/{INPUT_FOLDER}/ and one folder "
                         f"per user) or {DEMO}[:SPLIT]")
    root, _, listing = text.partition("@")
    if not os.path.isdir(os.path.join(root, INPUT_FOLDER)):
        raise ValueError(f"{root} has no {INPUT_FOLDER}/ folder: PieNet's data folder holds "
                         f"{INPUT_FOLDER}/ and one folder of retouched photos per user")
    return Source(root=root, listing=listing)


def users(source):
    """All user names of a source: its user folders in name order, or every demo preset."""
    src = parse_source(source)
    if src.is_demo:
        return styles.NAMES
    found = tuple(sorted(d for d in os.listdir(src.root) if d != INPUT_FOLDER and not d.startswith(".")
                         and os.path.isdir(os.path.join(src.root, d))))
    if not found:
        raise ValueError(f"{src.root} has no user folders next to {INPUT_FOLDER}/")
    return found


def training_users(source):
    """The users to train on by default: every user folder, or the demo presets not held out."""
    return styles.TRAIN if parse_source(source).is_demo else users(source)


def _check_users(src, names):
    names = tuple(names)
    known = users(src)
    if not names:
        raise ValueError("no users given")
    if len(set(names)) != len(names):
        raise ValueError(f"users are given twice in {names}")
    for name in names:
        if name not in known:
            where = "the demo styles" if src.is_demo else f"the user folders of {src.root}"
            raise ValueError(f"user {name!r} is not one of {where}: {', '.join(known)}")
    return names


def _read_user(src, user, *, on_bad_image, shuffle=False, seed=0, start=0):
    """One user's (input, retouched) uint8 pairs and how many there are (bad files included); with
    `shuffle`, endless shuffled passes from pair `start` on (common.data.read)."""
    order = dict(shuffle=shuffle, seed=seed, start=start)
    if src.is_demo:
        photos, size = data.read(data.Source("demo", name="photos", split=src.split),
                                 on_bad_image=on_bad_image, **order)
        return photos.map(lambda photo: (photo, styles.apply(user, photo))), size
    folder = os.path.join(src.root, user)
    try:
        return data.read(data.Source("paired", paths=(src.inputs, folder)), on_bad_image=on_bad_image,
                         **order)
    except ValueError as err:
        raise ValueError(f"user {user!r}: {err}") from err


def read(source, users, *, on_bad_image="skip", shuffle=False, seed=0, start=0):
    """((input, retouched), user_id) uint8 samples of the given users, and how many there are.

    user_id is the user's index in `users`. The users take turns (one sample of each in turn while
    they last), so that consecutive samples, and so a batch, mix users. With `shuffle` each user's
    files come in endless passes, each in its own order (seed + the user's index), and the users take
    strict turns, so sample i is user i mod K's sample i // K: a stream that starts at sample `start`
    starts each user where the whole stream would have it.
    """
    src = parse_source(source)
    users = _check_users(src, users)
    per_user, total = [], 0
    for uid, user in enumerate(users):
        user_start = start // len(users) + (uid < start % len(users))
        pairs, size = _read_user(src, user, on_bad_image=on_bad_image, shuffle=shuffle,
                                 seed=seed + uid, start=user_start if shuffle else 0)
        per_user.append(pairs.map(lambda x, y, uid=uid: ((x, y), tf.constant(uid, tf.int32))))
        total += size
    turns = tf.data.Dataset.range(len(per_user)).repeat().skip(start % len(users) if shuffle else 0)
    # Without stop_on_empty_dataset a user whose samples ran out is passed over; the dataset ends when
    # every user's has.
    return tf.data.Dataset.choose_from_datasets(per_user, turns, stop_on_empty_dataset=False), total


def count(source, users):
    """How many (photo, user) samples the users have in a source (unreadable files included)."""
    return read(source, users)[1]


def square(image, size):
    """The centred square of a uint8 [H, W, 3] image resized to size x size: how every photo is fitted."""
    return data.resize(data.center_crop(image), size)


def dataset(source, users, *, batch_size, image_size, training, load_size=None, flip=True,
            seed=None, on_bad_image="skip", cache=True, repeat=False, start=0):
    """Batches ((images, user_ids), targets) for `PieNet.fit`: float32 in [0, 1], user_ids int32.

    Every photo and its retouched version are cut to their centred square and resized, to load_size
    (default image_size * 9 / 8) for training and image_size for evaluation. Training: cache -> shuffle
    -> the same random image_size crop and horizontal flip (`flip`) for both -> full batches only,
    mixing users. Evaluation: batches in a fixed order (users taking turns). Without `cache` the file
    lists are shuffled instead. `start` resumes the training stream, as in common.data.pipeline.
    """
    seed = data.stream_seed(seed)
    ds, size = read(source, users, on_bad_image=on_bad_image, shuffle=training and not cache,
                    seed=seed, start=start)
    side = (load_size or image_size + image_size // 8) if training else image_size
    ds = ds.map(lambda pair, uid: ((square(pair[0], side), square(pair[1], side)), uid),
                num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if training:
        augment = data.jointly(data.augmentation(image_size, flip))
        ds = data.with_seeds(ds, size, cache=cache, repeat=repeat, seed=seed, start=start)
        ds = ds.map(lambda sample, s: (augment(*sample[0], s), sample[1]),
                    num_parallel_calls=tf.data.AUTOTUNE)

    def finish(pair, uid):
        x, y = (data.to_range(im, (0.0, 1.0)) for im in pair)
        return (x, uid), y

    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    # Files are listed in memory, so a multi-worker run shards by element (as common.data.pipeline).
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def user_pairs(source, user, *, on_bad_image="skip"):
    """One user's (input, retouched) uint8 pairs at their own size, in file name order: for evaluation."""
    src = parse_source(source)
    _check_users(src, [user])
    return _read_user(src, user, on_bad_image=on_bad_image)[0]


def preferred(source, user, *, image_size, limit=None, on_bad_image="skip"):
    """A user's retouched photos as a uint8 batch [N, S, S, 3] (each `square`d): its preferred photos.

    The first `limit` in file name order (all by default), as a new user would pick them; this is the
    batch the SavedModel's `preference` endpoint (or serving.preference) turns into a preference vector.
    """
    photos = user_pairs(source, user, on_bad_image=on_bad_image).map(lambda x, y: square(y, image_size))
    if limit:
        photos = photos.take(limit)
    photos = list(photos)
    if not photos:
        raise ValueError(f"user {user!r} of {source} has no readable retouched photos")
    return tf.stack(photos)
