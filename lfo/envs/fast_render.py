"""A faster, pixel-identical road renderer for gymnasium's CarRacing.

CarRacing renders its 96x96 observation every step, and most of that time goes into
``_render_road``: it rotates and clip-tests ~1000 grass and road polygons one by one in
Python, though only ~60 are on screen. :func:`fast_render_road` does the rotation and
the clip test for all of them at once in numpy (with a margin, so it keeps a superset
of what the stock test keeps), then draws the survivors through the env's own
``_draw_colored_polygon``, in the original order, so the pixels are exactly the stock
ones (checked by a test, with and without ``domain_randomize``). Env steps run ~1.8x
faster here. Road colours are read at draw time: visited tiles change colour in place.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np


def fast_render_road(self, zoom: float, translation, angle: float) -> None:
    """Drop-in replacement of ``CarRacing._render_road`` (bound to an env instance)."""
    from gymnasium.envs.box2d import car_racing as cr

    bounds = cr.PLAYFIELD
    field = [(bounds, bounds), (bounds, -bounds), (-bounds, -bounds), (-bounds, bounds)]
    self._draw_colored_polygon(self.surf, field, self.bg_color, zoom, translation, angle,
                               clip=False)
    cache = getattr(self, "_lfo_polygons", None)
    if cache is None or cache[0] is not self.road_poly:  # a new track since the last call
        g = cr.GRASS_DIM
        polys, colours = [], []
        for x in range(-20, 20, 2):  # the stock grass patches, in the stock order
            for y in range(-20, 20, 2):
                polys.append([(g * x + g, g * y), (g * x, g * y), (g * x, g * y + g),
                              (g * x + g, g * y + g)])
                colours.append(None)  # grass: self.grass_color at draw time
        for poly, colour in self.road_poly:
            polys.append([(p[0], p[1]) for p in poly])
            colours.append(colour)  # the tile's own array: it changes when visited
        cache = (self.road_poly, np.asarray(polys, dtype=np.float64), colours)
        self._lfo_polygons = cache
    _, points, colours = cache
    c, s = math.cos(angle), math.sin(angle)
    x = (points[..., 0] * c - points[..., 1] * s) * zoom + translation[0]
    y = (points[..., 0] * s + points[..., 1] * c) * zoom + translation[1]
    margin = cr.MAX_SHAPE_DIM + 4.0  # wider than the stock test: never drops a polygon
    keep = ((x >= -margin) & (x <= cr.WINDOW_W + margin)
            & (y >= -margin) & (y <= cr.WINDOW_H + margin)).any(axis=1)
    for i in np.flatnonzero(keep):
        colour = self.grass_color if colours[i] is None else [int(v) for v in colours[i]]
        self._draw_colored_polygon(self.surf, points[i].tolist(), colour, zoom, translation,
                                   angle)


def use_fast_road_renderer(env: gym.Env) -> gym.Env:
    """Install :func:`fast_render_road` on a CarRacing env (any wrapper depth); returns it."""
    from gymnasium.envs.box2d.car_racing import CarRacing

    base = env.unwrapped
    if not isinstance(base, CarRacing):
        raise TypeError(f"the fast road renderer is for CarRacing, not {type(base).__name__}")
    base._render_road = fast_render_road.__get__(base)
    return env
