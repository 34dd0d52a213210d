/* Fuzzes the WS-Management reply parser of the WinRM transport
 * (providers/transport/wsman.c): the input is the body of an HTTP reply
 * from a Windows host, read as each reply winrm.c expects: a SOAP fault
 * (cs_wsman_parse_fault, formatted with cs_wsman_fault_text), a
 * CreateResponse (the ShellId), a CommandResponse (the CommandId) and a
 * ReceiveResponse (stdout/stderr in base64, CommandState, exit code), once
 * for every command and once for one command id under a small cap (the
 * truncation path).  No I/O. */
#include "common.h"

#include <stdlib.h>
#include "providers/transport/wsman.h"

/* The command id of the recorded traffic's seeds
 * (tests/fixtures/winrm/test_winrs_operation_timeout.yml). */
#define COMMAND_ID "D644AE56-61E5-4C1A-A135-E599B76B3035"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct cs_err err = CS_ERR_INIT;
	struct cs_wsman_fault f;
	int r = cs_wsman_parse_fault(xml, size, &f, &err);
	if (r == 1) {
		free(cs_wsman_fault_text(&f));
		(void)cs_wsman_fault_is_timeout(&f);
		cs_wsman_fault_free(&f);
	}
	cs_err_clear(&err);

	char *id = NULL;
	if (cs_wsman_parse_create(xml, size, &id, &err) == 0 && (!id || !*id))
		abort(); /* success means an id */
	free(id);
	cs_err_clear(&err);
	id = NULL;
	if (cs_wsman_parse_command(xml, size, &id, &err) == 0 && (!id || !*id))
		abort();
	free(id);
	cs_err_clear(&err);

	struct cs_wsman_receive rr;
	cs_wsman_receive_init(&rr, 0);
	cs_wsman_parse_receive(xml, size, NULL, &rr, &err);
	cs_wsman_receive_free(&rr);
	cs_err_clear(&err);
	cs_wsman_receive_init(&rr, 16);
	cs_wsman_parse_receive(xml, size, COMMAND_ID, &rr, &err);
	if (rr.out.len > 16 || rr.err.len > 16)
		abort(); /* the cap holds */
	cs_wsman_receive_free(&rr);
	cs_err_clear(&err);
	return 0;
}
