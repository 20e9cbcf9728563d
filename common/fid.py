"""FID (and KID) between two folders of images, computed as `python -m pytorch_fid DIR_A DIR_B --dims N`:

    python -m common.fid real/ generated/ --weights=pt_inception-2015-12-05-6726825d.pth
    python -m common.fid real/ generated/ --weights=pt_inception-2015-12-05-6726825d.pth --dims=768 --kid

--weights is pytorch-fid's own file of the TensorFlow 2015 Inception that published FIDs are computed
with (`pt_inception-2015-12-05-6726825d.pth`, on pytorch-fid's GitHub releases page), read without
PyTorch by common/pth.py. The first run converts it (common/inception.py) and keeps the converted
arrays in $GAN_ZOO_CACHE (default ~/.cache/gan_zoo_tf)/fid_inception/, which later runs load instead
(common/weights_cache.py); a .weights.h5 saved from common/inception.py may also be given. Each image is read as RGB in [0, 1], resized to 299 x 299
bilinearly, run through the network in batches of --batch_size, and its --dims features (64, 192, 768
or 2048, pytorch-fid's four blocks) averaged over space; the mean and covariance are accumulated batch
by batch, so memory does not grow with the folders (KID keeps the features: 8 KB per image at 2048).
FID: common/feature_metrics.py. KID: the cubic-kernel MMD over --kid_subsets subsets of
--kid_subset_size images, printed with its standard deviation over the subsets.

Prints `FID: <value>` (and `KID: <mean> (std <std>, ...)`). Exit codes: 0 done; 1 a weights file that
cannot be read or is not the FID Inception; 2 bad arguments (a missing folder, no images in it).
"""

import os

from absl import app, flags

from common import cli

flags.DEFINE_string("weights", None, "pytorch-fid's pt_inception-2015-12-05-6726825d.pth, or its "
                    "converted .weights.h5.")
flags.DEFINE_enum("dims", "2048", ["64", "192", "768", "2048"], "Inception features to compare "
                  "(pytorch-fid's --dims).")
flags.DEFINE_integer("batch_size", 50, "Images per forward pass.", lower_bound=1)
flags.DEFINE_boolean("kid", False, "Also print the kernel inception distance.")
flags.DEFINE_integer("kid_subsets", 100, "KID: number of random subsets.", lower_bound=1)
flags.DEFINE_integer("kid_subset_size", 1000, "KID: images per subset (at most each folder's count).",
                     lower_bound=2)
FLAGS = flags.FLAGS


def folder_statistics(network, folder, batch_size, keep):
    """feature_metrics.Statistics of the images in `folder`, a batch at a time."""
    import numpy as np

    from common import feature_metrics, images, inception
    statistics = feature_metrics.Statistics(keep=keep)
    files = images.list_images(folder)
    for start in range(0, len(files), batch_size):
        batch = [images.read_image(f).astype(np.float32) / 255.0 for f in files[start:start + batch_size]]
        statistics.add(inception.features(network, batch))
    return statistics


def main(argv):
    if len(argv) != 3:
        raise app.UsageError("give two folders of images: python -m common.fid DIR_A DIR_B --weights=...")
    cli.check_arguments(argv[:1], FLAGS, "weights")
    for folder in argv[1:]:
        if not os.path.isdir(folder):
            raise app.UsageError(f"{folder}: no such folder")
    if not os.path.isfile(FLAGS.weights):
        raise app.UsageError(f"--weights={FLAGS.weights}: no such file")
    from common import feature_metrics, inception  # TensorFlow, once the arguments are known to be good

    full = cli.converted(inception.load, FLAGS.weights)
    network = inception.feature_network(full, int(FLAGS.dims))
    with cli.bad_arguments_exit_2():
        a, b = (folder_statistics(network, folder, FLAGS.batch_size, FLAGS.kid) for folder in argv[1:])
    print(f"FID: {feature_metrics.frechet_distance(a.mean, a.covariance, b.mean, b.covariance)}")
    if FLAGS.kid:
        mean, std = feature_metrics.kernel_inception_distance(a.features, b.features, FLAGS.kid_subsets,
                                                              FLAGS.kid_subset_size)
        size = min(FLAGS.kid_subset_size, a.count, b.count)
        print(f"KID: {mean} (std {std}, {FLAGS.kid_subsets} subsets of {size})")


if __name__ == "__main__":
    cli.run(main)
