"""`python data_order_worker.py FLAGS --output=FILE`: one worker of a cluster (TF_CONFIG) reading
the training stream that train.py reads (`training.setup`, `training.dataset`), distributed as
keras' `fit` distributes it; writes JSON {"seed": the data seed, "given": what each of its replicas
was given in one epoch}. Each example is an image of one constant value, its number."""

import json

import numpy as np
from absl import flags

from common import cli, gan, training
from common.flags import FLAGS

flags.DEFINE_string("output", None, "Where the JSON goes.")


def main(argv):
    del argv
    strategy = training.setup(gan.GANModel).strategy
    stream = training.dataset("data", batch_size=FLAGS.batch_size, image_size=FLAGS.image_size,
                              training=True, repeat=True, flip=False)
    batches = iter(strategy.experimental_distribute_dataset(stream))
    given = []
    for _ in range(training.steps_per_epoch()):
        for share in strategy.experimental_local_results(next(batches)):
            given.append(np.rint((share.numpy()[:, 0, 0, 0] + 1) * 127.5).astype(int).tolist())
    with open(FLAGS.output, "w") as f:
        json.dump({"seed": training.data_seed(), "given": given}, f)


if __name__ == "__main__":
    cli.run(main)
