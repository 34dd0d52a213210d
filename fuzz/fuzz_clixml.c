/* Fuzzes the decoder of PowerShell's error stream: the input is what
 * powershell.exe wrote to stderr (CLIXML "#< CLIXML" documents, or plain
 * text, or both), turned into console text by cs_ps_stderr_text()
 * (providers/transport/winrm_scripts.c, on cs_wsman_decode_clixml() in
 * wsman.c) into a capped buffer as the WinRM transport and the Windows
 * platform (providers/platform/windows.c) do, and the first line of it
 * taken for an error message with cs_ps_first_line().  No I/O. */
#include "fuzz/common.h"

#include <stdlib.h>
#include <string.h>
#include "providers/transport/winrm_scripts.h"
#include "providers/transport/wsman.h"

#define CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_buf text;
	cs_buf_init(&text, CAP);
	cs_ps_stderr_text(&text, (const char *)data, size);
	if (text.len > CAP)
		abort();
	char *line = cs_ps_first_line(&text);
	if (!line || strlen(line) > 403)
		abort(); /* one line of at most 400 characters and "..." */
	free(line);
	cs_buf_free(&text);

	struct cs_buf all = CS_BUF_INIT;
	if (cs_wsman_decode_clixml(&all, (const char *)data, size) < 0)
		abort(); /* only memory can fail, and there is no cap */
	cs_buf_free(&all);
	return 0;
}
