"""Deep Photo Enhancer (Chen et al., CVPR 2018) in TensorFlow 2 / Keras 3."""
