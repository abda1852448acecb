"""The Jupyter project's kernel conformance suite (jupyter_kernel_test) against Trainbook.

Run by test.sh with the kernelspec installed into a private JUPYTER_DATA_DIR.
"""
import unittest

import jupyter_kernel_test as jkt


class TrainbookKernelTests(jkt.KernelTests):
    kernel_name = "trainbook"
    language_name = "rust"
    file_extension = ".rs"

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("oops");'
    code_generate_error = "let x: u32 = \"not a number\";"
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"ab".repeat(2)', "result": '"abab"'},
        {"code": "vec![1, 2, 3].len()", "result": "3"},
    ]
    code_history_pattern = "6 *"
    supported_history_operations = ("tail", "range", "search")
    code_display_data = [
        {"code": 'display(&Html::new("<b>bold</b>"));', "mime": "text/html"},
        {"code": "display(&Svg::new(\"<svg xmlns='http://www.w3.org/2000/svg'/>\"));",
         "mime": "image/svg+xml"},
    ]
    code_clear_output = 'println!("before"); clear_output(false);'
    code_inspect_sample = "Vec::new"
    completion_samples = [
        {"text": "let some_long_variable = 1; some_long_v", "matches": {"some_long_variable"}},
    ]
    complete_code_samples = ["1 + 1", "let x = 5;", "fn f() -> u32 { 3 }", ":timing"]
    incomplete_code_samples = ["fn f() {", "let s = \"open", "let v = vec![1,"]
    invalid_code_samples = ["fn f() }", "let x = (1, 2];"]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        # The suite allows 15 s per request; a cold Trainbook evaluator (evcxr loading the
        # prelude into rust-analyzer) takes longer on a 2-core machine. Wait for it once here:
        # the suite tests the protocol, bench/ measures start-up.
        cls.kc.execute_interactive("1", timeout=300)


class TrainbookIopubWelcome(jkt.IopubWelcomeTests):
    kernel_name = "trainbook"
    support_iopub_welcome = True


if __name__ == "__main__":
    unittest.main()
