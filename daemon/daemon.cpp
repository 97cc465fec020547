#include "daemon/util/clock.h"
