r"""Score a DCGAN export against real images: FID, KID and ProGAN's sliced Wasserstein distance.

    python -m dcgan_tf.evaluate --model=runs/dcgan/saved_model --data=celeba/ --metric_weights=weights/
    python -m dcgan_tf.evaluate --model=runs/dcgan_demo/saved_model --data=demo:photos:train

The real images are --data (a folder, tfds:NAME[:SPLIT] or demo:NAME[:SPLIT], as training takes it),
each cut to its centred square of --center_crop (as in training) and resized to the model's size; as
many generated ones are drawn from --seed (the latents of dcgan_tf.sample), or --num_samples. FID and
KID (common/feature_metrics.py) compare pytorch-fid's 2,048 Inception features of the two sets, their
statistics gathered a batch at a time; they need pytorch-fid's weights in --metric_weights (layout:
README, "Metrics"), or are left out with one line saying so. SWD (common.metrics, ProGAN's
multi-scale sliced Wasserstein distance x 1e3, per level and mean) needs no weights, and is computed on
the first --swd_images of each set. The DCGAN paper (Radford et al., 2016) reports none of these, so
there is no paper column: compare runs with each other, at the same number of images (FID falls as
the sets grow).

Exit codes: 0 scored; 2 bad arguments (a missing flag, no DCGAN export in --model, no images in --data,
weights of the wrong network).
"""

import sys

from absl import flags

from common import cli, metric_weights

flags.DEFINE_string("model", None, "A DCGAN export (<model_dir>/saved_model).")
flags.DEFINE_string("data", None, "The real images: a folder, tfds:NAME[:SPLIT] or demo:NAME[:SPLIT].")
flags.DEFINE_integer("num_samples", 0, "Generated images to score (0: as many as the real ones).",
                     lower_bound=0)
flags.DEFINE_integer("seed", 0, "Seed of the generated images' latents.")
flags.DEFINE_integer("center_crop", 0, "Cut each real image to its centred square of this size first "
                     "(as --center_crop in training; 0: the largest).", lower_bound=0)
flags.DEFINE_integer("batch_size", 50, "Images per forward pass.", lower_bound=1)
flags.DEFINE_integer("swd_images", 2048, "Images of each set that SWD compares.", lower_bound=1)
metric_weights.define_flags()
FLAGS = flags.FLAGS


def main(argv):
    cli.check_arguments(argv, FLAGS, "model", "data")
    metric_weights.check_flags()
    import numpy as np

    from common import data, feature_metrics, inception, metrics  # TensorFlow, once the flags are good
    from dcgan_tf.model import latents, load_generator
    with cli.bad_arguments_exit_2():
        generate, latent_dim = load_generator(FLAGS.model)
        fid_network, note = metric_weights.fid_or_note(FLAGS.metric_weights)
        probe = generate(latents(1, latent_dim))
        real = data.pipeline(FLAGS.data, batch_size=FLAGS.batch_size, image_size=int(probe.shape[1]),
                             training=False, value_range=(0.0, 1.0), center_crop_size=FLAGS.center_crop)
    if note:
        print(f"note: {note}", file=sys.stderr)

    names = ("real", "generated")
    sets = {name: feature_metrics.Statistics(keep=True) for name in names}  # Inception features
    kept = {name: [] for name in names}  # the images SWD compares
    counts = dict.fromkeys(names, 0)

    def add(name, batch):
        batch = np.asarray(batch, np.float32)
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)  # Inception takes RGB, as pytorch-fid converts
        kept[name].append(batch[:max(0, FLAGS.swd_images - counts[name])])
        counts[name] += len(batch)
        if fid_network is not None:
            sets[name].add(inception.features(fid_network, batch))

    for batch in real:
        add("real", batch)
    total = FLAGS.num_samples or counts["real"]
    z = latents(total, latent_dim, FLAGS.seed)
    for start in range(0, total, FLAGS.batch_size):
        add("generated", np.asarray(generate(z[start:start + FLAGS.batch_size])) / np.float32(255))
    print(f"{counts['real']} real images ({FLAGS.data}), {counts['generated']} generated (seed {FLAGS.seed})")
    if fid_network is not None:
        a, b = sets["real"], sets["generated"]
        print(f"FID: {feature_metrics.frechet_distance(a.mean, a.covariance, b.mean, b.covariance):.4f}")
        mean, std = feature_metrics.kernel_inception_distance(a.features, b.features)
        print(f"KID: {mean:.6f} (std {std:.6f})")
    real_images, fake_images = (np.concatenate(kept[name]) for name in names)
    n = min(len(real_images), len(fake_images))
    swd = metrics.sliced_wasserstein_distance(real_images[:n], fake_images[:n])
    print(f"SWD x 1e3 ({n} images each): mean {swd['mean']:.2f}, levels "
          + ", ".join(f"{v:.2f}" for v in swd["levels"]))


if __name__ == "__main__":
    cli.run(main)
