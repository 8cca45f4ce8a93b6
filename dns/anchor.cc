// Anchors the tern_dns library until its first real source lands.
