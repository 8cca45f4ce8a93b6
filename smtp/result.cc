// Anchors the tern_smtp library; Result and Error are header-only.
#include "smtp/result.h"
