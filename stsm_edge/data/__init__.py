"""Training data: annotation lists (annotations), frame sampling (sampling), clip augmentation (augment), the clip
dataset and its loader (dataset), frames from videos, folders and lists (sources), and the motion benchmark (motion).

Nothing is imported here, so a light room (the motion benchmark's renderer, the sampling functions) loads without
torch; import each name from its room."""
