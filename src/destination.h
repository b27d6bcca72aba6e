/*
 * destination.h
 *		Where delivery may send: the telemetry.allowed_destinations policy.
 *
 * Public addresses are always allowed.  Loopback, link-local, private,
 * shared (CGNAT), unique-local, unspecified, multicast and broadcast
 * addresses only when the superuser lists them (an address or a CIDR
 * range), however they are spelled; a listed host name allows that name
 * whatever it resolves to.  The policy is checked on the URL text at
 * registration and on every resolved address at connect time.
 *
 * Nothing here touches the database: http.c calls it with no transaction
 * open.
 */
#ifndef TELEMETRY_DESTINATION_H
#define TELEMETRY_DESTINATION_H

#include "postgres.h"

#include <sys/socket.h>

#include "utils/guc.h"

/* An IPv4 (4 bytes used) or IPv6 address. */
typedef struct DestAddr
{
	int			family;			/* AF_INET or AF_INET6 */
	uint8		bytes[16];
} DestAddr;

/* GUC telemetry.allowed_destinations (guc.c defines it with these hooks) */
extern char *telemetry_allowed_destinations;
extern bool destination_check_hook(char **newval, void **extra, GucSource source);
extern void destination_assign_hook(const char *newval, void *extra);

/* bumped whenever the policy changes: cached connections must go */
extern uint32 destination_policy_generation;

extern char *destination_url_host(const char *url);
extern bool destination_host_listed(const char *host);
extern bool destination_sockaddr(const struct sockaddr *sa, DestAddr *addr);
extern bool destination_address_allowed(const DestAddr *addr, bool host_listed,
										const char **kind);
extern void destination_format(const DestAddr *addr, char *buf, size_t len);
extern bool destination_host_matches(const char *pattern, const char *host);

#endif							/* TELEMETRY_DESTINATION_H */
