"""The PieNet networks: ResNet18 in torchvision's layout and its weight loading, the enhancer's shape."""

import keras
import numpy as np
import pytest

from pienet_tf import networks


def count(weights):
    return sum(int(np.prod(v.shape)) for v in weights)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype("float32")


def torchvision_resnet18_shapes():
    """The state-dict shapes of torchvision.models.resnet18(), written out from its layout."""
    shapes = {"conv1.weight": (64, 3, 7, 7)}

    def bn(name, c):
        shapes.update({f"{name}.weight": (c,), f"{name}.bias": (c,), f"{name}.running_mean": (c,),
                       f"{name}.running_var": (c,), f"{name}.num_batches_tracked": ()})

    bn("bn1", 64)
    c_in = 64
    for stage, c in enumerate((64, 128, 256, 512), 1):
        for block in (0, 1):
            name = f"layer{stage}.{block}"
            shapes[f"{name}.conv1.weight"] = (c, c_in if block == 0 else c, 3, 3)
            bn(f"{name}.bn1", c)
            shapes[f"{name}.conv2.weight"] = (c, c, 3, 3)
            bn(f"{name}.bn2", c)
            if block == 0 and stage > 1:
                shapes[f"{name}.downsample.0.weight"] = (c, c_in, 1, 1)
                bn(f"{name}.downsample.1", c)
        c_in = c
    shapes.update({"fc.weight": (1000, 512), "fc.bias": (1000,)})
    return shapes


@pytest.fixture(scope="module")
def resnet():
    return networks.embedding()


def test_resnet18_counts_and_layers(resnet):
    assert count(resnet.trainable_weights) == 11_176_512
    assert count(resnet.non_trainable_weights) == 9_600  # BN moving means and variances
    # The same number from torchvision's state dict: conv and BN weights and biases, no fc.
    torch_trainable = sum(int(np.prod(s)) for k, s in torchvision_resnet18_shapes().items()
                          if not k.startswith("fc.") and not k.endswith(("running_mean", "running_var",
                                                                         "num_batches_tracked")))
    assert torch_trainable == 11_176_512
    bns = [layer for layer in resnet.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 20 and all(b.epsilon == 1e-5 and b.momentum == pytest.approx(0.9) for b in bns)
    assert resnet.get_layer("layer4_1_conv2").kernel.shape == (3, 3, 512, 512)
    assert resnet.get_layer("layer3_0_downsample_0").strides == (2, 2)


def test_embedding_is_unit_norm_at_any_size(resnet):
    x = rand(3, 37, 45, 3)
    e = resnet(x).numpy()
    assert e.shape == (3, 512) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(e[0], e[1])


def test_torchvision_weights_land_in_the_right_variables(resnet, tmp_path):
    rng = np.random.default_rng(1)
    state = {k: rng.normal(size=s).astype("float32") for k, s in torchvision_resnet18_shapes().items()}
    for k in state:
        if k.endswith("running_var"):
            state[k] = np.abs(state[k]) + 0.5
    path = tmp_path / "resnet18.npz"
    np.savez(path, **state)
    networks.load_resnet18_weights(resnet, path)

    bn = resnet.get_layer("layer2_0_downsample_1")
    for variable, key in ((bn.gamma, "weight"), (bn.beta, "bias"), (bn.moving_mean, "running_mean"),
                          (bn.moving_variance, "running_var")):
        np.testing.assert_array_equal(variable.numpy(), state[f"layer2.0.downsample.1.{key}"])
    np.testing.assert_array_equal(resnet.get_layer("layer4_1_conv2").kernel.numpy(),
                                  state["layer4.1.conv2.weight"].transpose(2, 3, 1, 0))

    # conv1 against a NumPy reference of torch's conv2d(stride 2, padding 3) on normalised input.
    x = rand(2, 10, 12, 3, seed=2)
    conv1 = keras.Model(resnet.input, resnet.get_layer("conv1").output)(x).numpy()
    normed = (x - np.array(networks.IMAGENET_MEAN)) / np.array(networks.IMAGENET_STD)
    padded = np.pad(normed, [(0, 0), (3, 3), (3, 3), (0, 0)])
    weight = state["conv1.weight"]  # [out, in, kh, kw]
    expected = np.zeros((2, 5, 6, 64))
    for i in range(5):
        for j in range(6):
            patch = padded[:, 2 * i:2 * i + 7, 2 * j:2 * j + 7, :]  # [n, kh, kw, in]
            expected[:, i, j] = np.einsum("nhwc,ochw->no", patch, weight)
    assert conv1.shape == expected.shape
    np.testing.assert_allclose(conv1, expected, rtol=1e-4, atol=1e-4)


def test_weight_file_errors_name_file_and_key(tmp_path):
    small = networks.embedding(width=8)
    before = [v.numpy() for v in small.weights]
    shapes = {k: s for k, s in torchvision_resnet18_shapes().items()}
    scaled = {k: tuple(d // 8 if d in (64, 128, 256, 512) else d for d in s) for k, s in shapes.items()}

    good = {k: np.ones(s, "float32") for k, s in scaled.items()}
    del good["layer3.1.bn2.running_var"]
    path = tmp_path / "missing.npz"
    np.savez(path, **good)
    with pytest.raises(ValueError, match=r"missing\.npz.*missing key 'layer3\.1\.bn2\.running_var'"):
        networks.load_resnet18_weights(small, path)

    good["layer3.1.bn2.running_var"] = np.ones(32, "float32")
    good["layer1.0.conv2.weight"] = np.ones((8, 8, 3, 5), "float32")
    path = tmp_path / "shapes.npz"
    np.savez(path, **good)
    with pytest.raises(ValueError, match=r"shapes\.npz.*'layer1\.0\.conv2\.weight' has shape "
                                         r"\(8, 8, 3, 5\), the model needs \(8, 8, 3, 3\)"):
        networks.load_resnet18_weights(small, path)
    # Nothing was assigned by the failed loads.
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, small.weights))

    with pytest.raises(ValueError, match="nowhere.npz: no such file"):
        networks.load_resnet18_weights(small, tmp_path / "nowhere.npz")
    (tmp_path / "text.npz").write_text("not numpy")
    with pytest.raises(ValueError, match=r"text\.npz is not an \.npz archive"):
        networks.load_resnet18_weights(small, tmp_path / "text.npz")


def test_enhancer_count_and_layout():
    g = networks.enhancer()
    assert count(g.trainable_weights) == 21_338_883 and not g.non_trainable_weights
    assert networks.MULTIPLE == 16
    # By hand: encoder = conv_in 1,792 + residual blocks 2 x (73,856 + 295,168 + 1,180,160 + 4,719,616)
    # + stride-2 convs 73,856 + 295,168 + 1,180,160 + 2,359,808; PUBs 3,212,544 + 1,327,744 + 348,480
    # and the ΔI conv 1,731.
    encoder = count(w for layer in g.layers if layer.name.startswith(("conv_in", "res", "down"))
                    for w in layer.weights)
    assert encoder == 16_448_384
    assert [count(w for layer in g.layers if layer.name.startswith(f"pub{k}_") for w in layer.weights)
            for k in (1, 2, 3)] == [3_212_544, 1_327_744, 348_480]
    assert g.get_layer("global_pool").output.shape == (None, 512)
    assert [g.get_layer(f"down{k}").strides for k in (1, 2, 3, 4)] == [(2, 2)] * 4
    # The PUBs work on the outputs of blocks 6, 4 and 2, at their resolutions and widths.
    for k, block, width in ((1, 6, 256), (2, 4, 128), (3, 2, 64)):
        concat = g.get_layer(f"pub{k}_concat")
        assert concat.input[0] is g.get_layer(f"res{block}_add").output
        assert concat.output.shape[-1] == 3 * width
    assert g.input[1].shape == (None, 512)


def test_untrained_enhancer_returns_its_input_at_any_multiple_of_16():
    g = networks.enhancer(width=8, preference_dim=64)
    for shape in ((2, 32, 48, 3), (1, 16, 16, 3)):
        x = rand(*shape)
        y = g([x, rand(shape[0], 64, seed=1)]).numpy()
        assert y.shape == x.shape and y.dtype == np.float32
        np.testing.assert_array_equal(y, x)  # the last conv starts at zero: ΔI = 0
    delta = g.get_layer("delta")
    delta.kernel.assign(np.full(delta.kernel.shape, 0.01, "float32"))
    preference = rand(2, 64, seed=3)
    x = rand(2, 32, 32, 3)
    a = g([x, preference]).numpy()
    b = g([x, preference[::-1]]).numpy()
    assert not np.allclose(a, x) and not np.allclose(a, b)  # the output depends on the preference


def test_broadcast2d():
    vectors = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    out = networks.Broadcast2D()([vectors, np.zeros((2, 3, 5, 7), "float32")]).numpy()
    assert out.shape == (2, 3, 5, 2)
    np.testing.assert_array_equal(out[1, 2, 4], [3.0, 4.0])
    np.testing.assert_array_equal(out[0].reshape(-1, 2), np.tile([1.0, 2.0], (15, 1)))
