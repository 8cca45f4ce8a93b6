// Anchors the tern_queue library until its first real source lands.
