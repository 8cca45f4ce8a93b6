// Anchors the tern_metrics library until its first real source lands.
