"""InternVL's dynamic tiling, for the original remote-code checkpoints (``trust_remote_code``).

The "-hf" checkpoints tile inside their transformers image processor; the original ones
(OpenGVLab/InternVL3-8B) expect the caller to do it, as in their model card: pick the grid of
``cols x rows`` 448-px tiles (at most ``max_tiles``) whose aspect ratio is closest to the image's,
resize the image to that grid, cut it into tiles, append a 448-px thumbnail of the whole image when
there is more than one tile, and normalise every tile with the ImageNet mean and std.
Pure PIL and numpy; ``tiles_tensor`` converts to torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

TILE = 448
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def candidate_grids(max_tiles: int, min_tiles: int = 1) -> list[tuple[int, int]]:
    """Every (cols, rows) with ``min_tiles <= cols * rows <= max_tiles``, fewest tiles first."""
    grids = {
        (cols, rows)
        for cols in range(1, max_tiles + 1)
        for rows in range(1, max_tiles + 1)
        if min_tiles <= cols * rows <= max_tiles
    }
    return sorted(grids, key=lambda grid: grid[0] * grid[1])


def choose_grid(width: int, height: int, max_tiles: int, tile: int = TILE) -> tuple[int, int]:
    """The grid whose aspect ratio is closest to the image's; on a tie, the larger grid if the
    image has more than half the pixels that grid would show (InternVL's rule)."""
    aspect = width / height
    best, best_diff = (1, 1), float("inf")
    for cols, rows in candidate_grids(max_tiles):
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best, best_diff = (cols, rows), diff
        elif diff == best_diff and width * height > 0.5 * tile * tile * cols * rows:
            best = (cols, rows)
    return best


def split_tiles(image: Image.Image, max_tiles: int = 12, tile: int = TILE, thumbnail: bool = True) -> list[Image.Image]:
    """The image as ``tile``-px tiles in row-major order, plus a thumbnail when there are several."""
    image = image.convert("RGB")
    cols, rows = choose_grid(image.width, image.height, max_tiles, tile)
    resized = image.resize((cols * tile, rows * tile), Image.Resampling.BICUBIC)
    tiles = [
        resized.crop((col * tile, row * tile, (col + 1) * tile, (row + 1) * tile))
        for row in range(rows)
        for col in range(cols)
    ]
    if thumbnail and len(tiles) > 1:
        tiles.append(image.resize((tile, tile), Image.Resampling.BICUBIC))
    return tiles


def normalize(tile: Image.Image, size: int = TILE) -> np.ndarray:
    """One tile as a float32 CHW array, resized to ``size`` and normalised with ImageNet statistics."""
    if tile.size != (size, size):
        tile = tile.resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(tile, dtype=np.float32) / np.float32(255.0)
    mean, std = np.array(IMAGENET_MEAN, dtype=np.float32), np.array(IMAGENET_STD, dtype=np.float32)
    return ((pixels - mean) / std).transpose(2, 0, 1)


def tiles_tensor(image: Image.Image, max_tiles: int = 12, tile: int = TILE) -> Any:
    """``pixel_values`` for an original InternVL checkpoint: a (tiles, 3, tile, tile) float tensor."""
    import torch

    return torch.from_numpy(np.stack([normalize(t, tile) for t in split_tiles(image, max_tiles, tile)]))
