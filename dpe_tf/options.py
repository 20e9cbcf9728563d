"""What DPE's tools offer on the command line, without TensorFlow, so that they define their flags
and answer --help before TensorFlow loads: the training modes."""

MODES = ("2way", "1way", "supervised")
