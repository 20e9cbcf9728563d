"""Learning-rate schedules of the papers, as Keras schedules on the optimizer's step counter."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="common")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant for `constant_epochs`, then linearly down over `decay_epochs`.

    This is the per-epoch `lambda_rule` of pix2pix/CycleGAN: during epoch e (from 0) the rate is
    lr * (1 - max(0, e + 1 - constant_epochs) / (decay_epochs + 1)). DPE uses the same shape.
    """

    def __init__(self, learning_rate, steps_per_epoch, constant_epochs, decay_epochs):
        self.learning_rate = learning_rate
        self.steps_per_epoch = steps_per_epoch
        self.constant_epochs = constant_epochs
        self.decay_epochs = decay_epochs

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        done = ops.maximum(0.0, epoch + 1.0 - self.constant_epochs)
        # Never negative, should training run past constant_epochs + decay_epochs.
        return self.learning_rate * ops.maximum(0.0, 1.0 - done / (self.decay_epochs + 1.0))

    def get_config(self):
        return {"learning_rate": self.learning_rate, "steps_per_epoch": self.steps_per_epoch,
                "constant_epochs": self.constant_epochs, "decay_epochs": self.decay_epochs}
