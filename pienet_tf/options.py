"""What PieNet's tools offer on the command line, without TensorFlow, so that they define their flags
and answer --help before TensorFlow loads: the training stages."""

STAGES = ("embed", "enhance")
