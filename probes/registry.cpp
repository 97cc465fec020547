#include "probes/probe_result.h"
