/*
 * names.c: the name rules of names.h and the edit distance behind every "did you mean".
 *
 * The one idea: a rule is written once, as a set of allowed bytes and a length, and every program
 * that takes a name from a person (a runbook file, a command line, a request the daemon reads)
 * checks it here. Only ASCII letters count as letters: a name is never locale-dependent.
 */
#include "names.h"

#include <string.h>

#include "yb.h"

static bool lower(char c) { return c >= 'a' && c <= 'z'; }
static bool upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool digit(char c) { return c >= '0' && c <= '9'; }
static bool letter(char c) { return lower(c) || upper(c); }

bool yb_runbook_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > YB_NAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower(s[i]) && !digit(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool yb_host_name_valid(const char *s)
{
	return yb_runbook_name_valid(s);
}

bool yb_step_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > YB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!letter(s[i]) && !digit(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool yb_param_name_valid_n(const char *s, size_t n)
{
	if (n == 0 || n > YB_NAME_MAX || !letter(s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!letter(s[i]) && !digit(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool yb_param_name_valid(const char *s)
{
	return yb_param_name_valid_n(s, strlen(s));
}

bool yb_env_name_valid_n(const char *s, size_t n)
{
	if (n == 0 || n > YB_ENV_NAME_MAX || digit(s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!letter(s[i]) && !digit(s[i]) && s[i] != '_')
			return false;
	return true;
}

bool yb_env_name_valid(const char *s)
{
	return yb_env_name_valid_n(s, strlen(s));
}

char *yb_param_env_name(const char *param)
{
	char *s = xasprintf("%s%s", YB_PARAM_ENV_PREFIX, param);
	for (char *p = s + strlen(YB_PARAM_ENV_PREFIX); *p; p++)
		*p = *p == '-' ? '_' : lower(*p) ? (char)(*p - 'a' + 'A') : *p;
	return s;
}

int yb_edit_distance(const char *a, const char *b, int cap)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > (size_t)cap)
		return cap + 1;
	int prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *yb_closest(const char *word, const char *const *cands, size_t n)
{
	int limit = (int)strlen(word) / 3;
	if (limit < 2)
		limit = strlen(word) > 2 ? 2 : 1;
	const char *best = NULL;
	int best_d = limit + 1;
	for (size_t i = 0; i < n; i++) {
		if (!cands[i])
			continue;
		int d = yb_edit_distance(word, cands[i], limit);
		if (d < best_d) {
			best_d = d;
			best = cands[i];
		}
	}
	return best;
}
