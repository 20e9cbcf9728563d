"""PieNet (Kim, Koh, Kim, ECCV 2020) as a Keras model: its two training stages and new users' vectors.

Batches, in both stages: `((images, user_ids), targets)`, images and targets float32 [B, S, S, 3] in
[0, 1] (an input photo and its version retouched by user `user_ids[i]`), user_ids int32 [B] indexing
`users`.

- Stage "embed": the style embedding (ResNet18) and one learnable preference vector per training user
  are trained with the triplet loss (margin 0.2): a user's vector is pulled towards the embeddings of
  that user's retouched photos and pushed away from other users' retouched photos and from the inputs.
- Stage "enhance": the embedding and the vectors are frozen; the enhancer, fed the user's (L2-normalised)
  vector, is trained with L1 + 0.4 * L1(embed(output), embed(target)) + 0.01 * weighted TV.
  After `use_photo_vectors` it is fed instead the vector a new user gets: the normalised mean embedding
  of 1 to `max_photos` of that user's retouched photos, drawn at random every step (our deviation).

A new user's vector comes from a few photos they like: `preference_from_photos`.
"""

import keras
import numpy as np
import tensorflow as tf

from common import data, distribute, losses, metrics
from common.gan import GANModel, adam
from pienet_tf import networks
from pienet_tf.options import STAGES

VALUE_RANGE = (0.0, 1.0)
METHODS = ("mean", "optimise")
# The paper's multi-user setting: the five MIT-Adobe FiveK experts, named as their folders.
FIVEK_EXPERTS = ("expert_a", "expert_b", "expert_c", "expert_d", "expert_e")

_TRAIN_METRICS = {"embed": ["triplet", "nearest_own"], "enhance": ["loss", "l1", "perceptual", "tv"]}
_TEST_METRICS = {"embed": ["triplet", "nearest_own"], "enhance": ["psnr", "ssim", "l1"]}


def _unit(vectors):
    return tf.math.l2_normalize(tf.cast(vectors, tf.float32), axis=-1)


def _triplet_of_batch(anchors, retouched, originals, user_ids, margin):
    """The embed stage's triplets: anchor = vector of user i, positive = image i as user i retouched it,
    negatives = every image another user retouched and every input photo in the global batch.

    Under a strategy with several replicas the negatives are gathered from every replica and the
    loss is divided by the mean count of valid triplets per replica, so that the replicas' mean loss
    and its gradient are those of the whole batch on one device.
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync
    all_retouched, all_originals, all_ids = retouched, originals, user_ids
    if replicas > 1:
        all_retouched, all_originals, all_ids = (
            context.all_gather(t, axis=0) for t in (retouched, originals, user_ids))
    other_user = tf.not_equal(user_ids[:, None], all_ids[None, :])  # [B, G]
    valid = tf.concat([other_user, tf.ones_like(other_user)], axis=1)  # [B, 2G]
    candidates = tf.concat([all_retouched, all_originals], axis=0)  # [2G, D]
    negatives = tf.repeat(candidates[None], tf.shape(anchors)[0], axis=0)  # [B, 2G, D]
    count = None
    if replicas > 1:
        count = context.all_reduce("sum", tf.reduce_sum(tf.cast(valid, tf.float32))) / replicas
    return losses.triplet(anchors, retouched, negatives, margin, valid, count)


@keras.saving.register_keras_serializable(package="pienet_tf")
class PieNet(GANModel):
    """PieNet with the paper's settings: 256 x 256 crops, Adam 1e-4, margin 0.2, loss weights 0.4, 0.01.

    Attributes: `embedding` (ResNet18 -> unit 512-d style vectors), `enhancer` ([images, preference] ->
    images), `preference_vectors` (float32 [K, 512], one per name in `users`, used L2-normalised).
    `call((images, preference))` is the enhancer. Both stages build the same networks and variables, so
    the weights of an embed-stage run load into an enhance-stage model (only the optimizer state,
    which differs, is skipped with a warning). `image_size` is the training crop size, for the data
    pipeline; the networks take any multiple of 16. Widths other than 64 are for tests: the embedding
    then gives 8 * embedding_width dimensions.
    """

    def __init__(self, users=FIVEK_EXPERTS, stage="enhance", image_size=256, embedding_width=64,
                 enhancer_width=64, margin=0.2, perceptual_weight=0.4, tv_weight=0.01, **kwargs):
        users = [users] if isinstance(users, str) else list(users)
        if not users or len(set(users)) != len(users) or not all(isinstance(u, str) for u in users):
            raise ValueError(f"users must be distinct names, at least one, got {users!r}")
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        if image_size % networks.MULTIPLE or image_size < networks.MULTIPLE:
            raise ValueError(f"image_size must be a multiple of {networks.MULTIPLE}, got {image_size}")
        super().__init__(sorted(set(_TRAIN_METRICS[stage] + _TEST_METRICS[stage])), **kwargs)
        self.options = dict(users=users, stage=stage, image_size=image_size,
                            embedding_width=embedding_width, enhancer_width=enhancer_width,
                            margin=margin, perceptual_weight=perceptual_weight, tv_weight=tv_weight)
        self.users = tuple(users)
        self.stage = stage
        self.embedding = networks.embedding(embedding_width)
        dim = self.embedding.output_shape[-1]
        self.enhancer = networks.enhancer(enhancer_width, preference_dim=dim)
        self.preference_vectors = self.add_weight(
            shape=(len(users), dim), name="preference_vectors",
            initializer=keras.initializers.RandomNormal(stddev=dim ** -0.5))
        if stage == "enhance":
            self.embedding.trainable = False  # also keeps its BatchNorm in inference mode
        self._photos = None  # (unit embeddings [M, D], their users [M], max_photos): use_photo_vectors
        self.built = True

    # -- optimizers --------------------------------------------------------------------------------

    learning_rate = 1e-4  # the paper's, both stages

    def default_optimizers(self, learning_rate):
        return adam(learning_rate, 0.9), None

    @property
    def generator_variables(self):
        """What the stage trains: the embedding and the vectors, or the enhancer."""
        if self.stage == "embed":
            return self.embedding.trainable_variables + [self.preference_vectors]
        return self.enhancer.trainable_variables

    @property
    def discriminator_variables(self):
        return None  # no critic, no d_optimizer

    # -- inference ---------------------------------------------------------------------------------

    def call(self, inputs, training=False):
        images, preference = inputs
        return self.enhancer([images, preference], training=training)

    def style_vectors(self):
        """(names, float32 [K, D]): the training users' learned vectors, L2-normalised."""
        return list(self.users), _unit(self.preference_vectors).numpy()

    def _user_vectors(self, user_ids):
        return tf.gather(_unit(self.preference_vectors), user_ids)

    def use_photo_vectors(self, embeddings, photo_users, max_photos):
        """Train the enhancer on the vectors new users get, not on the learned ones (call before fit).

        `embeddings` [M, D] are the style embeddings of the training users' retouched photos, each
        photo fitted as the `preference` endpoint fits it, and `photo_users` [M] their users' indices.
        Every train step then feeds each sample the normalised mean embedding of n photos of its
        user, n uniform in 1..max_photos (at most the user's count), the photos drawn at random: the
        enhancer learns the space that new users' vectors come from, and how few photos vary it. Each
        user's stored vector becomes the normalised mean of all of its photos (what evaluation,
        samples and the export's styles use); a user without photos keeps its learned vector.
        """
        if self.stage != "enhance":
            raise ValueError("photo vectors are for the enhance stage")
        if max_photos < 1:
            raise ValueError(f"max_photos must be 1 or more, got {max_photos}")
        embeddings = _unit(embeddings)
        photo_users = tf.cast(tf.reshape(photo_users, [-1]), tf.int32)
        if embeddings.shape[0] != photo_users.shape[0] or embeddings.shape[0] == 0:
            raise ValueError(f"{embeddings.shape[0]} embeddings for {photo_users.shape[0]} photo users")
        sums = tf.math.unsorted_segment_sum(embeddings, photo_users, len(self.users))
        counts = tf.math.bincount(photo_users, minlength=len(self.users))
        self.preference_vectors.assign(tf.where(counts[:, None] > 0, _unit(sums),
                                                self.preference_vectors))
        self._photos = (embeddings, photo_users, int(max_photos))

    def _photo_vectors(self, user_ids):
        """Each sample's vector from a random subset of its user's photos (see use_photo_vectors)."""
        embeddings, photo_users, max_photos = self._photos
        photos = embeddings.shape[0]
        batch = tf.shape(user_ids)[0]
        own = tf.equal(user_ids[:, None], photo_users[None, :])  # [B, M]
        limit = tf.minimum(tf.reduce_sum(tf.cast(own, tf.int32), axis=1), max_photos)
        # One uniform number per photo orders the user's photos; one more picks n.
        draws = distribute.replica_share(
            lambda shape: keras.random.uniform(shape, seed=self.noise_seed), [batch, photos + 1])
        order = tf.where(own, draws[:, :photos], -1.0)
        n = 1 + tf.cast(tf.floor(draws[:, photos] * tf.cast(limit, tf.float32)), tf.int32)
        highest = tf.math.top_k(order, min(max_photos, photos)).values
        threshold = tf.gather(highest, n - 1, batch_dims=1)
        picked = tf.cast(own & (order >= threshold[:, None]), tf.float32)
        vectors = _unit(tf.matmul(picked, embeddings))
        return tf.where(limit[:, None] > 0, vectors, self._user_vectors(user_ids))

    # -- training ----------------------------------------------------------------------------------

    @staticmethod
    def _unpack(batch):
        """(images, user_ids, targets) from ((images, user_ids), targets[, sample_weight])."""
        if (not isinstance(batch, (tuple, list)) or len(batch) < 2
                or not isinstance(batch[0], (tuple, list)) or len(batch[0]) != 2):
            raise ValueError("PieNet needs batches ((images, user_ids), targets)")
        (images, user_ids), targets = batch[0], batch[1]
        return (tf.convert_to_tensor(images), tf.reshape(tf.cast(user_ids, tf.int32), [-1]),
                tf.convert_to_tensor(targets))

    def train_step(self, batch):
        images, user_ids, targets = self._unpack(batch)
        if self.stage == "embed":
            return self._embed_step(images, user_ids, targets)
        return self._enhance_step(images, user_ids, targets)

    def _embed_losses(self, images, user_ids, targets, training):
        # One pass over targets and inputs together, so BatchNorm sees the batch the loss does.
        both = self.embedding(tf.concat([targets, images], axis=0), training=training)
        retouched, originals = both[:tf.shape(targets)[0]], both[tf.shape(targets)[0]:]
        loss = _triplet_of_batch(self._user_vectors(user_ids), retouched, originals, user_ids,
                                 self.options["margin"])
        nearest = tf.argmax(tf.matmul(retouched, _unit(self.preference_vectors), transpose_b=True),
                            axis=1, output_type=tf.int32)
        return loss, tf.reduce_mean(tf.cast(tf.equal(nearest, user_ids), tf.float32))

    def _embed_step(self, images, user_ids, targets):
        with tf.GradientTape() as tape:
            loss, nearest_own = self._embed_losses(images, user_ids, targets, training=True)
        self.minimize(tape, loss, self.g_optimizer, self.generator_variables)
        return self.track(triplet=loss, nearest_own=nearest_own)

    def _enhance_step(self, images, user_ids, targets):
        o = self.options
        preference = (self._photo_vectors(user_ids) if self._photos
                      else self._user_vectors(user_ids))
        target_style = self.embedding(targets, training=False)
        with tf.GradientTape() as tape:
            outputs = self.enhancer([images, preference], training=True)
            l1 = losses.l1(outputs, targets)
            perceptual = losses.l1(self.embedding(outputs, training=False), target_style)
            tv = losses.weighted_tv(outputs, images)
            loss = l1 + o["perceptual_weight"] * perceptual + o["tv_weight"] * tv
        self.minimize(tape, loss, self.g_optimizer, self.generator_variables)
        return self.track(loss=loss, l1=l1, perceptual=perceptual, tv=tv)

    # -- evaluation --------------------------------------------------------------------------------

    def test_step(self, batch):
        """Embed stage: the triplet loss and the fraction of retouched images whose nearest vector is
        their own user's. Enhance stage: PSNR, SSIM (uint8-quantized) and L1 against the targets."""
        images, user_ids, targets = self._unpack(batch)
        if self.stage == "embed":
            loss, nearest_own = self._embed_losses(images, user_ids, targets, training=False)
            return self.track(triplet=loss, nearest_own=nearest_own)
        outputs = self((images, self._user_vectors(user_ids)), training=False)
        return self.track(psnr=tf.reduce_mean(metrics.psnr(outputs, targets)),
                          ssim=tf.reduce_mean(metrics.ssim(outputs, targets)),
                          l1=losses.l1(outputs, targets))

    def sample_rows(self, batch):
        """One row per example: input | output for its user | target, as uint8."""
        images, user_ids, targets = self._unpack(batch)
        outputs = self((images, self._user_vectors(user_ids)), training=False)
        rows = [data.from_range(t, VALUE_RANGE) for t in (images, outputs, targets)]
        return [list(row) for row in zip(*(r.numpy() for r in rows))]


# -- a new user's preference vector -------------------------------------------------------------------


def embed_photos(embedding, images, batch_size=16):
    """Style embeddings float32 [N, D] of photos in [0, 1]: an array [N, H, W, 3] or a list of [H, W, 3]
    arrays of any sizes (embedded one by one)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("no photos given")
        return np.concatenate([embed_photos(embedding, np.asarray(im)[None]) for im in images])
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or images.shape[-1] != 3 or not len(images):
        raise ValueError(f"photos must be float images [N, H, W, 3] with N >= 1, got shape {images.shape}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(f"photos must have values in [0, 1], got [{images.min()}, {images.max()}] "
                         "(uint8 photos: divide by 255)")
    return np.concatenate([embedding(images[i:i + batch_size], training=False).numpy()
                           for i in range(0, len(images), batch_size)])


def retouched_embeddings(embedding, batches):
    """(embeddings float32 [M, D], user_ids int32 [M]) of the retouched photos (the targets) of
    PieNet batches ((images, user_ids), targets): what `PieNet.use_photo_vectors` takes."""
    embeddings, users = [], []
    for (_, user_ids), targets in batches:
        embeddings.append(tf.cast(embedding(targets, training=False), tf.float32))
        users.append(tf.cast(user_ids, tf.int32))
    if not embeddings:
        raise ValueError("no retouched photos to embed")
    return tf.concat(embeddings, axis=0), tf.concat(users, axis=0)


def preference_from_photos(embedding, images, method="mean", *, negatives=None, steps=200,
                           learning_rate=0.01, margin=0.2):
    """A new user's preference vector, float32 [D] L2-normalised, from photos they like (`images`).

    "mean" (default, the paper's): the normalised mean of the photos' embeddings.
    "optimise": starting from that, the vector v is optimised with the embedding frozen (Adam,
    `steps` full-batch steps) against the embed stage's triplet loss: anchor v, positives the liked
    photos, negatives the `negatives` photos (required: e.g. photos of the offered set the user did
    not pick, or the unretouched originals). The paper finds this better only with many photos.
    `images` and `negatives` are arrays [N, H, W, 3] or lists of [H, W, 3] arrays, floats in [0, 1].
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    positives = embed_photos(embedding, images)
    start = _unit(np.mean(positives, axis=0))
    if method == "mean":
        return start.numpy()
    if negatives is None:
        raise ValueError("method='optimise' needs negatives=: photos the user did not pick")
    negatives = tf.constant(embed_photos(embedding, negatives))
    positives = tf.constant(positives)
    vector = keras.Variable(start, name="preference")
    optimizer = keras.optimizers.Adam(learning_rate)
    stacked = tf.broadcast_to(negatives[None], [positives.shape[0], *negatives.shape])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            anchors = tf.broadcast_to(_unit(vector)[None], positives.shape)
            loss = losses.triplet(anchors, positives, stacked, margin)
        optimizer.apply([tape.gradient(loss, vector)], [vector])

    for _ in range(steps):
        step()
    return _unit(vector).numpy()
