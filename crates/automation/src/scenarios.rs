//! Scenario files in: the compiler the core asks on every write of `$scripts.$file`
//! (spec 03 §9–§10.1). A file must be a BPMN process this server can compile, and every
//! JavaScript expression in it must parse; unknown components are kept (they fail when run).

use std::sync::Arc;

use kartoteka_bpmn::{Ir, SyntaxCheck};
use kartoteka_core::scenarios::ScenarioCompiler;
use kartoteka_core::App;
use kartoteka_script::Engine;

/// JavaScript syntax as the sandbox that runs the scenario parses it.
struct ScriptSyntax<'a>(&'a Engine);

impl SyntaxCheck for ScriptSyntax<'_> {
    fn expression(&self, src: &str) -> Result<(), String> {
        self.0.check_expression(src)
    }

    fn function_body(&self, src: &str) -> Result<(), String> {
        self.0.check_function_body(src)
    }
}

/// Compiles scenario files with the sandbox's syntax checks.
pub struct BpmnCompiler {
    script: Engine,
}

impl BpmnCompiler {
    pub fn new(script: Engine) -> BpmnCompiler {
        BpmnCompiler { script }
    }

    /// The IR of a scenario file, or the message of the first compile error (naming the
    /// element).
    pub fn compile(&self, bytes: &[u8]) -> Result<Ir, String> {
        kartoteka_bpmn::compile(bytes, &ScriptSyntax(&self.script)).map_err(|e| e.to_string())
    }
}

impl ScenarioCompiler for BpmnCompiler {
    fn check(&self, bytes: &[u8]) -> Result<(), String> {
        self.compile(bytes).map(|_| ())
    }
}

/// Makes the core compile every scenario file written into `$scripts`.
pub fn install_scenarios(app: &Arc<App>) {
    let limits = kartoteka_script::Limits::default();
    app.set_scenario_compiler(Arc::new(BpmnCompiler::new(Engine::new(limits))));
}
