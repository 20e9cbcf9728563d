"""RealESRNet's RRDBNet against GPEN's own class (fixtures: tools/make_sr_fixtures.py, PyTorch 2.13)."""

import pathlib

import numpy as np
import pytest

from clitools import run
from common import porting, pth
from gpen_tf import background, checkpoints, rrdbnet

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
SMALL = dict(num_feat=8, num_block=2, num_grow_ch=4)  # the fixtures' widths
# The official RRDBNet(num_feat=32, num_block=23, num_grow_ch=32) of each scale, counted in PyTorch.
RELEASED_COUNTS = {1: 9_601_315, 2: 9_590_947, 4: 9_588_355}


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_parameter_counts_equal_the_official_ones(scale):
    model = rrdbnet.build_rrdbnet(scale, **rrdbnet.OFFICIAL)
    assert model.count_params() == RELEASED_COUNTS[scale]


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_converted_rrdbnet_equals_the_official_forward(scale):
    fixture = np.load(FIXTURES / f"rrdbnet_x{scale}.npz")
    photo = fixture["input"].transpose(1, 2, 0)[None]  # NCHW -> NHWC
    out = np.asarray(_converted(scale)(photo))[0].transpose(2, 0, 1)
    assert out.shape == fixture["output"].shape == (3, 24 * scale, 20 * scale)
    np.testing.assert_allclose(out, fixture["output"], atol=1e-4, rtol=1e-4)


def test_pixel_unshuffle_is_pytorchs_channel_order():
    x = np.arange(2 * 4 * 6 * 3, dtype=np.float32).reshape(2, 4, 6, 3)  # NHWC
    out = np.asarray(rrdbnet.pixel_unshuffle(x, 2))
    assert out.shape == (2, 2, 3, 12)
    # PyTorch's channel c * 4 + i * 2 + j at (y, x) is input channel c at (2 y + i, 2 x + j).
    for c, i, j in np.ndindex(3, 2, 2):
        np.testing.assert_array_equal(out[:, :, :, c * 4 + i * 2 + j], x[:, i::2, j::2, c])


def test_a_scale_it_does_not_have_is_named():
    with pytest.raises(ValueError, match="scale is one of"):
        rrdbnet.build_rrdbnet(3)


def _converted(scale):
    model = rrdbnet.build_rrdbnet(scale, **SMALL)
    port = porting.Porting(pth.load_state_dict(str(FIXTURES / f"rrdbnet_x{scale}.pth"), key="params_ema"))
    rrdbnet.port(model, port)
    port.finish()
    return model


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_upscale_is_the_official_process_whole_and_in_tiles(scale):
    """RealESRNet.process on a 37 x 45 photo: reflect padding, the crop (one pixel long at x2, as the
    official), tiles of 16 with a 10 px pad; within one level (float rounding before round())."""
    fixture = np.load(FIXTURES / f"rrdbnet_x{scale}.npz")
    model = _converted(scale)
    for name, tile in (("whole", 0), ("tiled", 16)):
        if name not in fixture:
            continue  # x1: the official tiles do not fit its 4 px unshuffle
        ours = background.upscale(model, fixture["photo"], scale, tile=tile)
        assert ours.shape == fixture[name].shape
        assert np.abs(ours.astype(int) - fixture[name]).max() <= 1, name
    assert fixture["whole"].shape[:2] == {1: (37, 45), 2: (75, 91), 4: (148, 180)}[scale]


def test_convert_tells_a_realesrnet_file_and_its_export_runs_the_official_process(tmp_path):
    fixture = np.load(FIXTURES / "rrdbnet_x2.npz")
    result = run("gpen_tf.convert", f"--checkpoint={FIXTURES / 'rrdbnet_x2.pth'}", f"--output={tmp_path}")
    assert "(RealESRNet, scale 2, num_feat 8, num_block 2, num_grow_ch 4)" in result.stdout
    network, scale = background.load(str(tmp_path))
    assert scale == 2
    raw = np.asarray(network(fixture["input"].transpose(1, 2, 0)[None]))[0].transpose(2, 0, 1)
    np.testing.assert_allclose(raw, fixture["output"], atol=1e-4, rtol=1e-4)
    np.testing.assert_array_equal(background.upscale(network, fixture["photo"], scale), fixture["whole"])


def test_rrdbnet_files_are_told_by_their_keys_and_bad_ones_named():
    state = pth.load_state_dict(str(FIXTURES / "rrdbnet_x1.pth"))  # params_ema unwrapped
    assert checkpoints.rrdbnet_config(state, "x1.pth") == dict(scale=1, **SMALL)
    odd = dict(state, **{"conv_first.weight": np.zeros((8, 5, 3, 3), np.float32)})
    with pytest.raises(pth.CheckpointError, match="takes 5 channels, not 48, 12 or 3"):
        checkpoints.rrdbnet_config(odd, "odd.pth")
    with pytest.raises(pth.CheckpointError, match="'body.0.rdb1.conv1.weight' is missing"):
        checkpoints.rrdbnet_config({"conv_first.weight": state["conv_first.weight"]}, "cut.pth")
    with pytest.raises(pth.CheckpointError, match="is a RealESRNet, which has no discriminator"):
        checkpoints.read_any(str(FIXTURES / "rrdbnet_x1.pth"), str(FIXTURES / "gpen_D.pth"))
