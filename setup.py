"""Packaging for glomo-keras."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

setup(
    name="glomo-keras",
    version="0.1.0",
    description=(
        "Keras 3 implementation of GLoMo, global-local modal fusion for "
        "multimodal sentiment analysis (ACM MM 2024)."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["glomo_keras", "glomo_keras.*"]),
    install_requires=[
        "keras>=3.15",
        "keras-hub>=0.32",
        "tensorflow>=2.21",
        "numpy",
        "scikit-learn",
        "tensorboard",
        "safetensors",
        "prometheus_client",
        # glomo-keras serve: the HTTP layer (docs/serving.md says why these).
        "starlette>=0.47",
        "uvicorn>=0.35",
    ],
    extras_require={
        "jax": ["jax>=0.4.30"],
        "torch": ["torch>=2.4"],
        "gpu": ["tensorflow[and-cuda]>=2.21", "jax[cuda12]>=0.4.30"],
        # glomo-keras plot / study figures / tune.
        "analysis": ["matplotlib>=3.8", "keras-tuner>=1.4.7"],
        "dev": ["pytest>=8", "pytest-timeout", "pytest-xdist", "matplotlib>=3.8", "keras-tuner>=1.4.7"],
    },
    entry_points={"console_scripts": ["glomo-keras=glomo_keras.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
