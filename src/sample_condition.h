/*
 * sample_condition.h
 *		sampling.conditions: "<property> <op> <literal>" or "<property> exists".
 */
#ifndef TELEMETRY_SAMPLE_CONDITION_H
#define TELEMETRY_SAMPLE_CONDITION_H

#include "spec_model.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

typedef enum CondOp
{
	COND_EXISTS,
	COND_EQ,
	COND_NE,
	COND_LT,
	COND_LE,
	COND_GT,
	COND_GE
} CondOp;

typedef enum CondLiteral
{
	LIT_NONE,					/* exists */
	LIT_NUMBER,
	LIT_STRING,
	LIT_BOOLEAN
} CondLiteral;

typedef struct SampleCondition
{
	char	   *property;
	int			proplen;
	CondOp		op;
	CondLiteral literal;
	Numeric		number;
	char	   *string;
	int			stringlen;
	bool		boolean;
} SampleCondition;

extern char *sample_condition_parse(const char *text, int len, SampleCondition *c);
extern char *sample_condition_check(const SampleCondition *c, const SpecProperty *prop,
									bool sensitive);
extern char *sample_condition_text(const SampleCondition *c);
extern bool sample_conditions_match(const SampleCondition *conds, int n, Jsonb *props);

#endif							/* TELEMETRY_SAMPLE_CONDITION_H */
