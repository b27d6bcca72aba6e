/*
 * provider_internal.c
 *		The "internal" provider type: events stay in the database.
 *
 * It takes no config keys and sends nothing (delivery_format_for() gives
 * delivery no format for it); it exists so the spec model's vocabulary of
 * provider types comes from descriptors alone.
 */
#include "telemetry.h"
#include "delivery.h"

static const DeliveryConfigKey internal_keys[] = {
	{.name = NULL}
};

const DeliveryFormat delivery_format_internal = {
	.type = "internal",
	.keys = internal_keys,
};
