"""Distances between two sets of network features (NumPy, float64): FID and KID.

- `frechet_distance(stats_a, stats_b)`: the Fréchet distance between two Gaussians fitted to the
  features, |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)), pytorch-fid's formula with the
  covariance normalised by N - 1 (np.cov). The trace of the matrix square root is the sum of the square
  roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2) (symmetric, positive semi-definite, with the same
  eigenvalues as S_a S_b), so it needs no general `sqrtm`, stays real, and does not fail on the
  singular covariances of fewer images than dimensions (where scipy's sqrtm, which pytorch-fid
  calls, needs its epsilon fallback).
- `kernel_inception_distance(a, b)`: the unbiased estimate of the squared MMD with the cubic
  polynomial kernel k(x, y) = (x . y / d + 1)^3 (Binkowski et al., 2018), averaged over random
  subsets (100 of 1,000 features by default, as torch-fidelity and TF-GAN): (mean, standard deviation).

`Statistics` accumulates the mean and covariance of features batch by batch (memory: d^2, whatever
the number of images), and keeps the features themselves only when KID needs them.
"""

import numpy as np


class Statistics:
    """Running sums of feature batches [n, d]; `mean`, `covariance` and (with keep=True) `features`."""

    def __init__(self, keep=False):
        self.count, self.total, self.products, self.kept = 0, None, None, [] if keep else None

    def add(self, batch):
        batch = np.asarray(batch, np.float64)
        if self.total is None:
            self.total, self.products = np.zeros(batch.shape[1]), np.zeros((batch.shape[1],) * 2)
        self.count += len(batch)
        self.total += batch.sum(0)
        self.products += batch.T @ batch
        if self.kept is not None:
            self.kept.append(batch.astype(np.float32))

    @property
    def mean(self):
        return self.total / self.count

    @property
    def covariance(self):
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 images, got {self.count}")
        return (self.products - self.count * np.outer(self.mean, self.mean)) / (self.count - 1)

    @property
    def features(self):
        return np.concatenate(self.kept)


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma_a, sigma_b):
    """tr((S_a S_b)^(1/2)) of two covariance matrices."""
    root = _psd_sqrt(sigma_a)
    values = np.linalg.eigvalsh(root @ sigma_b @ root)
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_distance(mean_a, sigma_a, mean_b, sigma_b):
    """FID of two Gaussians (means [d], covariances [d, d])."""
    diff = np.asarray(mean_a, np.float64) - np.asarray(mean_b, np.float64)
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2 * trace_sqrt_product(sigma_a, sigma_b))


def _mmd2_unbiased(x, y):
    d = x.shape[1]
    k_xx, k_yy, k_xy = ((p @ q.T / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
    m = len(x)
    off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))  # noqa: E731 (the diagonal left out)
    return off(k_xx) + off(k_yy) - 2 * k_xy.mean()


def kernel_inception_distance(features_a, features_b, subsets=100, subset_size=1000, seed=0):
    """(mean, standard deviation) over `subsets` of the unbiased squared MMD with the cubic kernel;
    each subset draws min(subset_size, both set sizes) features of each set without replacement."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 images on each side, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    values = [_mmd2_unbiased(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
