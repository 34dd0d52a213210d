/* Fault points: named places where the reliability harness may kill
 * certsync, to prove that a run killed at any moment leaves nothing worse
 * and that the next run finishes the job (RELIABILITY.md).
 *
 *   CERTSYNC_FAULT=NAME        SIGKILL the first time NAME is reached
 *   CERTSYNC_FAULT=NAME@N      ... the Nth time
 *   CERTSYNC_FAULT_TRACE=FILE  append "NAME\n" to FILE at every point reached
 *                              (how the harness learns a scenario's points)
 *
 * Names are "area.step" in lowercase ("bind.intent", "write.mid",
 * "renew.signed"); each is documented in RELIABILITY.md.  With neither
 * variable set a point costs one branch.  Nothing here is meant for
 * operators: it only ever makes certsync die. */
#ifndef CS_FAULT_H
#define CS_FAULT_H

void cs_fault_point(const char *name);

#endif
