//! Comms: the one target this kernel serves, a variable inspector that answers with the names
//! and types of the notebook's variables. Comms to unknown targets are closed at once.

use super::handlers::with_content;
use super::{Kernel, Message};
use crate::protocol::replies::{CommInfoReply, Status};
use crate::protocol::requests::{CommInfoRequest, CommMessage, CommOpen};
use serde_json::{json, Value};

/// The comm target this kernel serves.
pub const VARIABLES_COMM_TARGET: &str = "trainbook.variables";

pub fn comm_info(kernel: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: CommInfoRequest| {
        let target = asked.target_name.as_deref();
        let comms: serde_json::Map<String, Value> = kernel
            .comms
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, t)| target.is_none_or(|want| want == t.as_str()))
            .map(|(id, t)| (id.clone(), json!({"target_name": t})))
            .collect();
        let reply = CommInfoReply {
            status: Status::Ok,
            comms,
        };
        vec![request.reply("comm_info_reply", &reply)]
    })
}

pub fn comm_open(kernel: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |open: CommOpen| {
        let id = open.comm_id;
        if open.target_name == VARIABLES_COMM_TARGET && !id.is_empty() {
            kernel
                .comms
                .lock()
                .unwrap()
                .insert(id.clone(), open.target_name);
            send_variables(kernel, request, &id);
        } else {
            // Unknown target: the protocol says to close the comm straight away.
            kernel.publish(request, "comm_close", json!({"comm_id": id, "data": {}}));
        }
        Vec::new()
    })
}

pub fn comm_msg(kernel: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |message: CommMessage| {
        let known = kernel.comms.lock().unwrap().contains_key(&message.comm_id);
        if known {
            send_variables(kernel, request, &message.comm_id);
        } else {
            super::log(format!("comm_msg for unknown comm {:?}", message.comm_id));
        }
        Vec::new()
    })
}

pub fn comm_close(kernel: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |message: CommMessage| {
        kernel.comms.lock().unwrap().remove(&message.comm_id);
        Vec::new()
    })
}

fn send_variables(kernel: &Kernel, request: &Message, id: &str) {
    let (done, answer) = tokio::sync::oneshot::channel();
    kernel
        .executor
        .submit(super::executor::Job::Variables { done });
    let variables: Vec<Value> = answer
        .blocking_recv()
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ty)| json!({"name": name, "type": ty}))
        .collect();
    kernel.publish(
        request,
        "comm_msg",
        json!({"comm_id": id, "data": {"variables": variables}}),
    );
}
