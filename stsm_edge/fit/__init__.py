"""Fitting and scoring: training, distillation (one loop) and evaluation of a model or an artifact on a clip list."""
