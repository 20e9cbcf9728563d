"""Packaging: the only place dependencies are declared."""
from setuptools import setup

DEPLOY = ["ai-edge-litert>=2.0", "tf2onnx>=1.16", "onnxruntime>=1.17", "onnx"]

setup(
    name="gan-zoo-tf",
    version="0.1.0",
    description="Faithful TensorFlow 2 / Keras 3 rebuilds of pix2pix, DCGAN, DPE, PieNet and GPEN",
    python_requires=">=3.10",
    packages=["common", "pix2pix_tf", "dcgan_tf", "dpe_tf", "pienet_tf", "gpen_tf"],
    package_data={
        "common": ["demo_data/*.jpg", "demo_data/*.json", "demo_data/*.md"],
        "pix2pix_tf": ["configs/*.cfg"],
        "dcgan_tf": ["configs/*.cfg"],
        "dpe_tf": ["configs/*.cfg"],
        "pienet_tf": ["configs/*.cfg"],
        "gpen_tf": ["configs/*.cfg"],
    },
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.3",
        "tensorflow-datasets>=4.9",
        "numpy",
        "pillow",
        "absl-py",
        "tensorboard",
        "mtcnn>=1.0",  # GPEN's face detector for whole photos: TensorFlow, its weights in the wheel
    ],
    # deploy: the LiteRT and ONNX formats (common/formats.py): their converters and runtimes.
    # test: scikit-image and scipy are independent references for the metric tests; pytest-xdist runs
    # the suite on both cores of a small machine (`-n 2`); the deploy extra, whose formats are tested;
    # nbclient and ipykernel run the notebooks (notebooks/test_notebooks.py).
    extras_require={"deploy": DEPLOY,
                    "test": ["pytest>=7.3", "pytest-xdist", "scikit-image", "scipy", "nbclient", "nbformat",
                             "ipykernel", *DEPLOY]},
)
