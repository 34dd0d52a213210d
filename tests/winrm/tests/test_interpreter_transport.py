"""The PowerShell certsync's transport sends (providers/transport/
winrm_scripts.c, kept in tests/golden/powershell/) against the model, and
each piece of the subset those scripts need, with Windows PowerShell 5.1
semantics: Test-Path/Get-Item -LiteralPath, [IO.Path]::GetDirectoryName,
[IO.FileStream], [IO.File]::Replace/::Move, [NullString]::Value,
[Console]::Error, for loops and ++/--, output written before exit (or an
error, break, return) kept, finally on every way out of a try, and errors
in the framed script quoting the script's own line, never the bootstrap
line that carries the input."""

import base64
import os
import re
import sys
import unittest

import common
from test_interpreter import Base

GOLDEN = os.path.join(os.path.dirname(common.WINRM), 'golden', 'powershell')


def golden(name):
    with open(os.path.join(GOLDEN, name), encoding='utf-8') as fh:
        return fh.read()


def golden_windows(name):
    with open(os.path.join(os.path.dirname(GOLDEN), 'windows', name), encoding='utf-8') as fh:
        return fh.read()


def ps_quote(s):
    for q in "'\u2018\u2019\u201a\u201b":
        s = s.replace(q, q + q)
    return "'" + s + "'"


class Framed(Base):
    """Scripts framed exactly as cs_ps_frame does: one stdin line."""

    def framed(self, script, data=b''):
        """(exit code, stdout, stderr as text with LF line ends)."""
        line = '%s %s %s\r\n' % (golden('bootstrap.ps1'),
                                 ps_quote(base64.b64encode(script.encode('utf-8')).decode()),
                                 ps_quote(base64.b64encode(data).decode()))
        code, out, err = self.raw(line)
        if err.startswith(b'#< CLIXML'):
            from test_interpreter import clixml_text
            err = clixml_text(err)
        else:
            err = err.decode('utf-8')
        return code, out.decode('utf-8'), err.replace('\r\n', '\n')

    def raw(self, stdin):
        import programs
        from test_interpreter import Capture
        io = Capture(self.server, stdin)
        code = programs.powershell(io, ['-NoProfile', '-NonInteractive', '-Command', '-'])
        return code, io.out, io.err

    def file_script(self, name, path, data=b''):
        return self.framed('$Path = %s\n%s' % (ps_quote(path), golden(name)), data)

    def real(self, *parts):
        return self.d.join('fs', 'C', *parts)


class TransportScripts(Framed):
    """The golden file scripts end to end in the interpreter."""

    def setUp(self):
        super().setUp()
        os.makedirs(self.real('certsync'), exist_ok=True)

    def test_write_new_file_then_replace(self):
        for data in (b'first\r\n', bytes(range(256)) * 300, b''):
            code, out, err = self.file_script('write_file.ps1', 'C:\\certsync\\a.bin', data)
            self.assertEqual((code, err), (0, ''), out)
            with open(self.real('certsync', 'a.bin'), 'rb') as fh:
                self.assertEqual(fh.read(), data)
            self.assertEqual(os.listdir(self.real('certsync')), ['a.bin'])

    def test_write_missing_folder_is_44(self):
        code, out, err = self.file_script('write_file.ps1', 'C:\\nope\\a.bin', b'x')
        self.assertEqual(code, 44, err)

    def test_write_onto_a_folder_fails_and_cleans_up(self):
        code, out, err = self.file_script('write_file.ps1', 'C:\\certsync', b'x')
        self.assertEqual(code, 1)
        self.assertIn('Cannot create a file when that file already exists.', err)
        self.assertEqual([n for n in os.listdir(self.real()) if n.startswith('.certsync')], [])

    def test_read_stat_remove(self):
        with open(self.real('certsync', 'r.txt'), 'wb') as fh:
            fh.write(b'\x00\xffdata')
        code, out, err = self.file_script('read_file.ps1', 'C:\\certsync\\r.txt')
        self.assertEqual(code, 0, err)
        self.assertEqual(base64.b64decode(out.strip()), b'\x00\xffdata')
        self.assertEqual(self.file_script('read_file.ps1', 'C:\\certsync\\none')[0], 44)
        self.assertEqual(self.file_script('stat.ps1', 'C:\\certsync\\r.txt')[1], 'file 6\r\n')
        self.assertEqual(self.file_script('stat.ps1', 'C:\\certsync')[1], 'dir\r\n')
        self.assertEqual(self.file_script('stat.ps1', 'C:\\certsync\\none')[1], 'missing\r\n')
        code, out, err = self.file_script('remove_file.ps1', 'C:\\certsync\\r.txt')
        self.assertEqual((code, err), (0, ''))
        self.assertEqual(os.listdir(self.real('certsync')), [])
        self.assertEqual(self.file_script('remove_file.ps1', 'C:\\certsync\\r.txt')[0], 0)


class BootstrapErrors(Framed):
    """PowerShell quotes the line an error happened on; for the framed
    script that is the script's own line, never the bootstrap line (which
    carries the input, maybe a secret, in base64)."""

    SECRET = b'Pfx-Password-Do-Not-Show'

    def assert_no_input(self, err):
        self.assertNotIn('CertsyncInput', err)
        self.assertNotIn(base64.b64encode(self.SECRET).decode(), err)
        self.assertNotIn('FromBase64String', err)

    def test_unknown_command_quotes_the_script_line(self):
        code, out, err = self.framed("$ErrorActionPreference = 'Stop'\n'one'\n  Get-Nothing -Force\n'never'\n",
                                     self.SECRET)
        self.assertEqual(code, 1)
        self.assertEqual(out, 'one\r\n')
        self.assertIn("Get-Nothing : The term 'Get-Nothing' is not recognized", err)
        self.assertIn('At line:3 char:3\n+   Get-Nothing -Force\n+   ~~~', err)
        self.assert_no_input(err)

    def test_method_error_quotes_the_script_line(self):
        code, out, err = self.framed("$ErrorActionPreference = 'Stop'\n[IO.File]::Move('C:\\a', 'C:\\b')\n",
                                     self.SECRET)
        self.assertEqual(code, 1)
        self.assertIn('Exception calling "Move" with "2" argument(s): "Could not find file \'C:\\a\'."', err)
        self.assertIn("At line:2 char:1\n+ [IO.File]::Move('C:\\a', 'C:\\b')", err)
        self.assertIn('FullyQualifiedErrorId : FileNotFoundException', err)
        self.assert_no_input(err)

    def test_non_terminating_error_in_a_nested_block(self):
        code, out, err = self.framed("if ($true) {\n    Write-Error 'soft'\n}\n'after'\n", self.SECRET)
        self.assertEqual(out, 'after\r\n')
        self.assertIn('At line:2 char:5\n+     Write-Error \'soft\'', err)
        self.assert_no_input(err)

    def test_script_that_does_not_parse(self):
        code, out, err = self.framed("if (1 -eq 1 {\n", self.SECRET)
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith('certsync: Exception calling "Create"'), err)
        self.assertNotIn('#< CLIXML', err)
        self.assert_no_input(err)

    def test_input_that_is_not_base64(self):
        code, out, err = self.raw("%s 'J3gn' '%%%%'\r\n" % golden('bootstrap.ps1'))
        self.assertEqual(code, 1)
        # The bootstrap's own message, plain text through [Console]::Error.
        self.assertTrue(err.startswith(b'certsync: Exception calling "FromBase64String"'), err)
        self.assertNotIn(b'CertsyncInput', err)

    def test_literal_script_blocks_keep_their_scripts_lines(self):
        # A { } literal inside the framed script is located in that script.
        code, out, err = self.framed("$ErrorActionPreference = 'Stop'\n$sb = {\n  Get-Nothing\n}\n& $sb\n")
        self.assertIn('At line:3 char:3\n+   Get-Nothing', err)


class OutputBeforeExit(Base):
    """Windows PowerShell writes pipeline output as it is produced: what a
    script wrote before exit, an error, break or return is on stdout."""

    def run_block(self, body):
        return self.ps("& {\n%s\n}\n\n" % body)

    def test_exit(self):
        self.assertEqual(self.run_block("'a'\n'b'\nexit 3")[:2], (3, 'a\r\nb\r\n'))

    def test_exit_inside_loops_and_ifs(self):
        code, out, err = self.run_block("foreach ($i in 1, 2, 3) {\n  \"i=$i\"\n  if ($i -eq 2) { 'bye'; exit 7 }\n}")
        self.assertEqual((code, out), (7, 'i=1\r\ni=2\r\nbye\r\n'))

    def test_exit_in_a_nested_script_block(self):
        code, out, err = self.run_block("'outer'\n& { 'inner'; exit 4 }\n'never'")
        self.assertEqual((code, out), (4, 'outer\r\ninner\r\n'))

    def test_terminating_error(self):
        code, out, err = self.run_block("'a'\nthrow 'stop here'\n'never'")
        self.assertEqual((code, out), (1, 'a\r\n'))
        self.assertIn('stop here', err)

    def test_captured_output_is_not_written(self):
        # Output going into a variable or $( ) never reaches the host.
        code, out, err = self.run_block("$x = & { 'captured'; exit 4 }")
        self.assertEqual((code, out), (4, ''))
        code, out, err = self.run_block("'shown'\nWrite-Output $(& { 'captured'; exit 5 })")
        self.assertEqual((code, out), (5, 'shown\r\n'))

    def test_piped_output_is_not_written_directly(self):
        code, out, err = self.run_block("& { 'x'; exit 6 } | Out-Null")
        self.assertEqual((code, out), (6, ''))

    def test_break_continue_return(self):
        self.assertEqual(self.run_block("foreach ($i in 1, 2, 3) { $i; if ($i -eq 2) { 'stop'; break } }")[1],
                         '1\r\n2\r\nstop\r\n')
        self.assertEqual(self.run_block("foreach ($i in 1, 2) { 'x'; continue; 'never' }")[1], 'x\r\nx\r\n')
        self.assertEqual(self.run_block("$v = & { 'a'; return 'b'; 'never' }\n$v -join ','")[1], 'a,b\r\n')

    def test_finally_runs_without_an_error(self):
        self.assertEqual(self.run_block("try { 'try' } finally { 'finally' }\n'after'")[1],
                         'try\r\nfinally\r\nafter\r\n')

    def test_finally_runs_on_exit_return_and_break(self):
        self.assertEqual(self.run_block("try { 'try'; exit 2 } finally { 'finally' }")[:2],
                         (2, 'try\r\nfinally\r\n'))
        self.assertEqual(self.run_block("& { try { 'try'; return 'r' } finally { 'finally' } }")[1],
                         'try\r\nr\r\nfinally\r\n')
        self.assertEqual(self.run_block("foreach ($i in 1, 2) { try { $i; break } finally { 'f' } }")[1],
                         '1\r\nf\r\n')

    def test_catch_and_finally_order(self):
        code, out, err = self.run_block("try { 'try'; throw 'x' } catch { 'catch'; exit 3 } finally { 'finally' }")
        self.assertEqual((code, out), (3, 'try\r\ncatch\r\nfinally\r\n'))
        code, out, err = self.run_block("try { 'try'; throw 'x' } catch { \"caught $_\" }\n'after'")
        self.assertEqual((code, out), (0, 'try\r\ncaught x\r\nafter\r\n'))

    def test_error_inside_finally_after_exit(self):
        code, out, err = self.run_block("try { 'try'; exit 2 } finally { 'f'; throw 'in finally' }")
        self.assertEqual((code, out), (1, 'try\r\nf\r\n'))
        self.assertIn('in finally', err)


class ScriptBinding(Framed):
    """certsync's `script` binding (tests/golden/windows/script_run.ps1,
    cs_win_script_head/tail): the user's script runs as a script block
    inside try/finally that deletes the PFX.  `exit N` in a script block
    leaves powershell.exe (unlike a script file, which it alone would
    end); the finally block still runs on the way, and N is the exit code
    certsync sees.  A catch block would not catch exit either."""

    def setUp(self):
        super().setUp()
        self.temp = self.real('Users', 'svc-certsync', 'AppData', 'Local', 'Temp')

    def binding(self, user_script):
        """The golden wrapper with another user script in it, framed with
        the input certsync sends (PFX password, base64 PFX)."""
        text = golden_windows('script_run.ps1')
        body = text[text.index("$ErrorActionPreference = 'Stop'\n"):]
        self.assertIn('& ([scriptblock]::Create($CertsyncUserScript)) -Thumbprint $Thumbprint -PfxPath $PfxPath '
                      '-PfxPassword $PfxPassword -Listener $Listener\n', body)
        script = "$Thumbprint = 'AB'\n$CertsyncUserScript = %s\n$Listener = 'OWA'\n%s" % (ps_quote(user_script), body)
        data = b'Pfx!pass\n' + base64.b64encode(b'not really a PFX') + b'\n'
        return self.framed(script, data)

    USER = ("param([Parameter(Mandatory = $true)] [string] $Thumbprint, [string] $PfxPath,\n"
            "      [System.Security.SecureString] $PfxPassword, [Parameter(Mandatory = $true)] [string] $Listener)\n"
            "function Fail([string] $m) { [Console]::Error.WriteLine(\"user: $m\"); exit 1 }\n"
            "Write-Output \"pfx there: $(Test-Path -LiteralPath $PfxPath) $Thumbprint $Listener\"\n")

    def check(self, user_script, code, out, err_start=None):
        got = self.binding(user_script)
        self.assertEqual(got[:2], (code, out), got[2])
        if err_start is not None:
            self.assertTrue(got[2].startswith(err_start), got[2])
        self.assertEqual(os.listdir(self.temp), [], 'the PFX was not removed')

    def test_exit_1_fails_the_binding_and_removes_the_pfx(self):
        self.check(self.USER + "exit 1\n", 1, 'pfx there: True AB OWA\r\n')

    def test_exit_0_succeeds_and_removes_the_pfx(self):
        self.check(self.USER + "exit 0\n'never'\n", 0, 'pfx there: True AB OWA\r\n')

    def test_exit_from_a_function(self):
        self.check(self.USER + "if ($true) { Fail 'no listener' }\n'never'\n", 1, 'pfx there: True AB OWA\r\n',
                   'user: no listener\n')
        self.check(self.USER + "try { Fail 'in try' } catch { 'caught' }\n", 1, 'pfx there: True AB OWA\r\n',
                   'user: in try\n')

    def test_no_exit_error_and_script_without_param(self):
        self.check(self.USER + "'end'\n", 0, 'pfx there: True AB OWA\r\nend\r\n')
        self.check(self.USER + "throw 'boom'\n", 1, 'pfx there: True AB OWA\r\n')
        self.check("Write-Output \"no param: $Listener $($args.Count)\"\n", 0, 'no param: OWA 8\r\n')

    def test_undeclared_parameter_fails(self):
        # An advanced script must declare every parameter certsync passes.
        self.check("param([Parameter(Mandatory = $true)] $Thumbprint, $Listener)\n'never'\n", 1, '',
                   "A parameter cannot be found that matches parameter name 'PfxPath'.")


class ForLoops(Base):
    def test_counting(self):
        self.assertEqual(self.ok("for ($i = 0; $i -lt 3; $i++) { \"n$i\" }"), 'n0\r\nn1\r\nn2\r\n')

    def test_parts_optional_and_break(self):
        self.assertEqual(self.ok("$i = 5\nfor (;;) { if ($i -ge 7) { break }; $i; $i += 1 }"), '5\r\n6\r\n')
        self.assertEqual(self.ok("$i = 0\nfor (; $i -lt 2) { $i; $i++ }"), '0\r\n1\r\n')

    def test_continue_runs_the_iterator(self):
        self.assertEqual(self.ok("for ($i = 0; $i -lt 5; $i++) { if ($i % 2) { continue }; $i }"),
                         '0\r\n2\r\n4\r\n')

    def test_newlines_separate_parts(self):
        self.assertEqual(self.ok("for (\n  $i = 3\n  $i -gt 0\n  $i--\n) {\n  $i\n}"), '3\r\n2\r\n1\r\n')

    def test_false_condition_runs_nothing(self):
        self.assertEqual(self.ok("for ($i = 0; $i -lt 0; $i++) { 'never' }\n'done'"), 'done\r\n')

    def test_loop_output_is_a_value(self):
        self.assertEqual(self.ok("$a = for ($i = 1; $i -le 3; $i++) { $i * 10 }\n$a -join '+'"), '10+20+30\r\n')

    def test_on_stdin_an_open_for_continues(self):
        # A for line with an open brace waits for more input, like foreach.
        code, out, err = self.ps("for ($i = 0; $i -lt 2; $i++) {\n  \"x$i\"\n}\n\n")
        self.assertEqual((code, out), (0, 'x0\r\nx1\r\n'))

    def test_syntax_errors(self):
        self.fails("for ($i = 0; $i -lt 2; $i++) 'x'", 'Missing statement body in for loop.')
        self.fails("for $i", "Missing opening '\\(' after keyword 'for'.")

    def test_increment_and_decrement(self):
        self.assertEqual(self.ok("$i = 1\n$i++\n$i"), '2\r\n')
        self.assertEqual(self.ok("$i = 1\n($i++)\n$i"), '1\r\n2\r\n')
        self.assertEqual(self.ok("$i = 1\n(++$i)\n--$i\n$i"), '2\r\n1\r\n')
        self.assertEqual(self.ok("$h = @{n = 1}\n$h.n++\n$h.n"), '2\r\n')
        self.assertEqual(self.ok("$a = 1, 2\n$a[1]--\n$a -join ','"), '1,1\r\n')
        self.assertEqual(self.ok("$u++\n$u"), '1\r\n')

    def test_increment_needs_a_variable(self):
        self.fails("++5", "The '\\+\\+' operator works only on variables or on properties.")

    def test_other_loops_still_refused(self):
        self.fails("do { break } while ($true)", "'do' keyword is not supported")


class TestPathLiteral(Base):
    def setUp(self):
        super().setUp()
        os.makedirs(self.d.join('fs', 'C', 'd[1]'))
        with open(self.d.join('fs', 'C', 'd[1]', 'f.txt'), 'w') as fh:
            fh.write('12345')

    def test_path_types(self):
        out = self.ok("Test-Path -LiteralPath 'C:\\d[1]\\f.txt' -PathType Leaf\n"
                      "Test-Path -LiteralPath 'C:\\d[1]' -PathType Leaf\n"
                      "Test-Path -LiteralPath 'C:\\d[1]' -PathType Container\n"
                      "Test-Path -LiteralPath 'C:\\d[1]\\f.txt' -PathType Container\n"
                      "Test-Path -LiteralPath 'C:\\d[1]\\nope'\n"
                      "Test-Path -PSPath 'C:\\d[1]\\f.txt'\n"
                      "Test-Path -LiteralPath 'Z:\\x'")
        self.assertEqual(out.split(), ['True', 'False', 'True', 'False', 'False', 'True', 'False'])

    def test_one_parameter_set(self):
        self.fails("Test-Path -Path 'C:\\a' -LiteralPath 'C:\\a'",
                   'Parameter set cannot be resolved using the specified named parameters.')
        self.fails("Test-Path -PathType Leaf", 'missing mandatory parameters: Path.')

    def test_null_and_empty_refused_as_in_51(self):
        err = self.fails("Test-Path -LiteralPath $null", "Cannot bind argument to parameter 'LiteralPath' because "
                         "it is null.")
        self.assertIn('ParameterArgumentValidationErrorNullNotAllowed,Microsoft.PowerShell.Commands.TestPathCommand',
                      err)
        self.fails("Test-Path -LiteralPath ''", "Cannot bind argument to parameter 'LiteralPath' because it is an "
                   "empty string.")
        self.fails("Test-Path ''", "Cannot bind argument to parameter 'Path' because it is an empty string.")

    def test_get_item_literal_path(self):
        self.assertEqual(self.ok("(Get-Item -LiteralPath 'C:\\d[1]\\f.txt' -Force).Length"), '5\r\n')
        self.assertEqual(self.ok("$null -eq (Get-Item -LiteralPath 'C:\\d[1]').Length"), 'True\r\n')
        self.fails("Get-Item -LiteralPath 'C:\\d[1]\\nope'", "Cannot find path")
        self.fails("Get-Item -LiteralPath 'C:\\x' -Bogus", "parameter name 'Bogus'")


class DotNetFiles(Base):
    def setUp(self):
        super().setUp()
        os.makedirs(self.d.join('fs', 'C', 'w'))

    def real(self, *p):
        return self.d.join('fs', 'C', 'w', *p)

    def put(self, name, data):
        with open(self.real(name), 'wb') as fh:
            fh.write(data)

    def get(self, name):
        with open(self.real(name), 'rb') as fh:
            return fh.read()

    def test_get_directory_name(self):
        cases = [("'C:\\a\\b.txt'", 'C:\\a'), ("'C:\\a.txt'", 'C:\\'), ("'C:/a//b/c'", 'C:\\a\\b'),
                 ("'C:\\a\\'", 'C:\\a'), ("'b.txt'", ''), ("'\\\\srv\\share\\x'", '\\\\srv\\share')]
        for arg, want in cases:
            out = self.ok("'[' + [IO.Path]::GetDirectoryName(%s) + ']'" % arg)
            self.assertEqual(out, '[%s]\r\n' % want, arg)
        for arg in ("'C:\\'", '[NullString]::Value', "'\\\\srv\\share'"):
            self.assertEqual(self.ok("$null -eq [IO.Path]::GetDirectoryName(%s)" % arg), 'True\r\n', arg)
        self.fails("[IO.Path]::GetDirectoryName('')", 'The path is not of a legal form.')
        # PowerShell passes $null to a string parameter as "".
        self.fails("[IO.Path]::GetDirectoryName($null)", 'The path is not of a legal form.')
        self.fails("[IO.Path]::GetDirectoryName('C:\\a|b')", 'Illegal characters in path.')
        self.fails("[System.IO.Path]::GetDirectoryName('a', 'b')", 'Cannot find an overload for "GetDirectoryName"')

    def test_file_stream_create_write_flush_dispose(self):
        self.ok("$b = [Text.Encoding]::UTF8.GetBytes('hello world')\n"
                "$fs = [IO.FileStream]::new('C:\\w\\n.txt', [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, "
                "[IO.FileShare]::None)\n"
                "try { $fs.Write($b, 0, 5); $fs.Write($b, 5, 6); $fs.Flush($true) } finally { $fs.Dispose() }")
        self.assertEqual(self.get('n.txt'), b'hello world')

    def test_file_stream_enums_by_name(self):
        self.ok("$fs = [System.IO.FileStream]::new('C:\\w\\e.txt', 'Create', 'Write')\n$fs.Write([byte[]](65, 66), 0, 2)"
                "\n$fs.Close()")
        self.assertEqual(self.get('e.txt'), b'AB')
        self.fails("[IO.FileStream]::new('C:\\w\\e.txt', 'Sideways')", 'Unable to match the identifier name Sideways')
        self.fails("[IO.FileMode]::Sideways", 'Sideways')

    def test_file_stream_errors(self):
        self.put('x', b'old')
        err = self.fails("[IO.FileStream]::new('C:\\w\\x', [IO.FileMode]::CreateNew, [IO.FileAccess]::Write, "
                         "[IO.FileShare]::None)", 'Exception calling ".ctor" with "4" argument\\(s\\): '
                         '"The file \'C:\\\\w\\\\x\' already exists."')
        self.assertIn('FullyQualifiedErrorId : IOException', err)
        self.assertEqual(self.get('x'), b'old')
        self.fails("[IO.FileStream]::new('C:\\nope\\x', 'CreateNew')", "Could not find a part of the path 'C:\\\\nope")
        self.fails("[IO.FileStream]::new('C:\\w\\none', 'Open')", "Could not find file 'C:\\\\w\\\\none'")
        self.fails("$fs = [IO.FileStream]::new('C:\\w\\y', 'CreateNew', 'Write')\n$fs.Dispose()\n"
                   "$fs.Write([byte[]](1), 0, 1)", 'Cannot access a closed file.')
        self.fails("$fs = [IO.FileStream]::new('C:\\w\\z', 'CreateNew', 'Write')\n$fs.Write([byte[]](1, 2), 1, 5)",
                   'Offset and length were out of bounds')
        self.fails("$fs = [IO.FileStream]::new('C:\\w\\z2', 'CreateNew', 'Write')\n$fs.Write([byte[]](1), 0)",
                   'Cannot find an overload for "Write" and the argument count: "2"')
        self.fails("$fs = [IO.FileStream]::new('C:\\w\\z3', 'CreateNew', 'Write')\n$fs.Seek(0, 0)",
                   "does not contain a method named 'Seek'")
        self.fails("[IO.FileStream]::new('C:\\w\\r', 'Truncate', 'Read')",
                   'Combining FileMode: Truncate with FileAccess: Read is invalid.')

    def test_file_replace_needs_nullstring_for_no_backup(self):
        self.put('new', b'NEW')
        self.put('cur', b'CUR')
        self.fails("[IO.File]::Replace('C:\\w\\new', 'C:\\w\\cur', $null)", 'The path is not of a legal form.')
        self.assertEqual(self.get('cur'), b'CUR')
        self.ok("[IO.File]::Replace('C:\\w\\new', 'C:\\w\\cur', [NullString]::Value)")
        self.assertEqual(self.get('cur'), b'NEW')
        self.assertEqual(sorted(os.listdir(self.real())), ['cur'])

    def test_file_replace_with_backup_and_errors(self):
        self.put('new', b'NEW')
        self.put('cur', b'CUR')
        self.ok("[IO.File]::Replace('C:\\w\\new', 'C:\\w\\cur', 'C:\\w\\cur.bak')")
        self.assertEqual((self.get('cur'), self.get('cur.bak')), (b'NEW', b'CUR'))
        err = self.fails("[IO.File]::Replace('C:\\w\\cur', 'C:\\w\\absent', [NullString]::Value)",
                         'Unable to find the specified file.')
        self.assertIn('FileNotFoundException', err)
        self.fails("[IO.File]::Replace('C:\\w\\cur', 'C:\\w\\cur.bak')", 'Cannot find an overload for "Replace"')

    def test_file_move(self):
        self.put('a', b'A')
        self.ok("[IO.File]::Move('C:\\w\\a', 'C:\\w\\b')")
        self.assertEqual(sorted(os.listdir(self.real())), ['b'])
        self.put('c', b'C')
        self.fails("[IO.File]::Move('C:\\w\\c', 'C:\\w\\b')", 'Cannot create a file when that file already exists.')
        self.assertEqual(self.get('b'), b'A')
        self.fails("[IO.File]::Move('C:\\w\\gone', 'C:\\w\\d')", "Could not find file 'C:\\\\w\\\\gone'.")
        self.fails("[IO.File]::Move('C:\\w\\c', 'C:\\nope\\d')", 'Could not find a part of the path.')
        self.fails("[IO.File]::Move('', 'C:\\w\\d')", 'Empty file name is not legal.')

    def test_nullstring(self):
        self.assertEqual(self.ok("'[' + [NullString]::Value + ']'"), '[]\r\n')
        self.fails("[NullString]::Nothing", 'Nothing')

    def test_console_error(self):
        import programs
        from test_interpreter import Capture
        io = Capture(self.server, "& {\n[Console]::Error.WriteLine('to stderr')\n[Console]::Error.Write('no newline')\n"
                                  "[Console]::Error.WriteLine()\n[Console]::Error.WriteLine([NullString]::Value)\n"
                                  "'to stdout'\n}\n\n")
        code = programs.powershell(io, ['-NoProfile', '-NonInteractive', '-Command', '-'])
        self.assertEqual((code, io.out), (0, b'to stdout\r\n'))
        # Plain text straight to stderr, not CLIXML.
        self.assertEqual(io.err, b'to stderr\r\nno newline\r\n\r\n')
        self.fails("[Console]::Error.WriteLine('a', 'b', 'c')", 'Cannot find an overload for "WriteLine"')
        self.fails("[Console]::Error.Beep()", "does not contain a method named 'Beep'")
        self.fails("[Console]::Out.WriteLine('x')", "Out")

    def test_guid_formats_and_type_tests(self):
        out = self.ok("[Guid]::NewGuid().ToString('N')\n[Guid]::NewGuid().ToString('B')\n"
                      "[Guid]::NewGuid().ToString()")
        n, b, d = out.split()
        self.assertRegex(n, r'^[0-9a-f]{32}$')
        self.assertRegex(b, r'^\{[0-9a-f-]{36}\}$')
        self.assertRegex(d, r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
        self.fails("[Guid]::NewGuid().ToString('Q')", 'Format String can be only')
        self.assertEqual(self.ok("([byte[]](1, 2)) -is [byte[]]\n'x' -is [byte[]]\n'x' -is [string]\n"
                                 "1 -is [string]\n@(1) -is [array]"), 'True\r\nFalse\r\nTrue\r\nFalse\r\nTrue\r\n')


if __name__ == '__main__':
    sys.exit(common.tap_main([sys.modules[__name__]]))
