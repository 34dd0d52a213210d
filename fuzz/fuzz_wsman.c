/* Fuzzes the WS-Management reply parser of the WinRM transport
 * (providers/transport/wsman.c): the input is the body of an HTTP reply
 * from a Windows host, read as each reply winrm.c expects: a SOAP fault
 * (cs_wsman_parse_fault, formatted with cs_wsman_fault_text), a
 * CreateResponse (the ShellId), a CommandResponse (the CommandId) and a
 * ReceiveResponse (stdout/stderr in base64, CommandState, exit code), for
 * every command or for one command id under a small cap (the truncation
 * path).
 *
 * Input: byte 0 chooses the reply expected (modulo 4: fault, create,
 * command, receive; bit 2 with receive: one command, capped); the rest is
 * the XML.  One parse per input keeps the rate up.  No I/O. */
#include "fuzz/common.h"

#include <stdlib.h>
#include "providers/transport/wsman.h"

/* The command id of the recorded traffic's seeds
 * (tests/fixtures/winrm/test_winrs_operation_timeout.yml). */
#define COMMAND_ID "D644AE56-61E5-4C1A-A135-E599B76B3035"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *xml = (const char *)data + 1;
	size_t len = size - 1;
	struct cs_err err = CS_ERR_INIT;
	struct cs_wsman_fault f;
	struct cs_wsman_receive rr;
	char *id = NULL;
	switch (data[0] % 4) {
	case 0:
		if (cs_wsman_parse_fault(xml, len, &f, &err) == 1) {
			free(cs_wsman_fault_text(&f));
			(void)cs_wsman_fault_is_timeout(&f);
			cs_wsman_fault_free(&f);
		}
		break;
	case 1:
		if (cs_wsman_parse_create(xml, len, &id, &err) == 0 && (!id || !*id))
			abort(); /* success means an id */
		break;
	case 2:
		if (cs_wsman_parse_command(xml, len, &id, &err) == 0 && (!id || !*id))
			abort();
		break;
	default:
		/* Every command's streams unlimited, or one command's under a
		 * small cap (the truncation path). */
		cs_wsman_receive_init(&rr, data[0] & 4 ? 16 : 0);
		cs_wsman_parse_receive(xml, len, data[0] & 4 ? COMMAND_ID : NULL, &rr, &err);
		if ((data[0] & 4) && (rr.out.len > 16 || rr.err.len > 16))
			abort(); /* the cap holds */
		cs_wsman_receive_free(&rr);
		break;
	}
	free(id);
	cs_err_clear(&err);
	return 0;
}
