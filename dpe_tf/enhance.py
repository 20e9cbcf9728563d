"""Enhance photos with an exported Deep Photo Enhancer model.

    python -m dpe_tf.enhance --model=runs/dpe/saved_model --input=photos/ --output=enhanced/
    python -m dpe_tf.enhance --model=runs/dpe/saved_model --input=IMG_0042.jpg --output=enhanced/

Each output (PNG, named after its input) has the size of its input, from thumbnails to 12-megapixel
photos. Photos up to the training size S (512 in the paper) are padded bottom/right symmetrically to
S x S, as the official code does, and cropped back; larger ones take the global feature from a copy
downsized to S and run the local features at full resolution, in tiles so that memory stays bounded
(~1.8 GB for a 4000x3000 photo; see dpe_tf/NOTES.md). Grayscale and RGBA files are converted to
RGB; unreadable files are named and skipped, the others still written. Inputs are never overwritten.

Exit codes: 0 all written; 1 some input files could not be read (named on stderr); 2 bad arguments
(a missing flag, no SavedModel in --model, no images in --input, --output holding the inputs).
"""

from absl import flags

from common import cli, tool

if __name__ == "__main__":
    flags.adopt_module_key_flags(tool)  # --help lists --model, --input and --output
    cli.run(tool.main_for("DPE"))
