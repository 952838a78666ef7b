//! Hostile model files are refused with an error, never abort the host: sizes in the
//! metadata are capped, stored tensors must hold the bytes they declare, and constants
//! that tract would fold at load or at plan time are bounded before it allocates them.
//! The models are a few hundred bytes, built with the project's builder (tests/common).

mod common;

use colorize::contract::keys;
use colorize::{ErrorKind, Model};

fn refused(bytes: &[u8], kind: ErrorKind, phrase: &str) {
    let e = Model::from_bytes(bytes, "hostile").expect_err("hostile model accepted");
    assert_eq!(e.kind(), kind, "{e}");
    assert!(e.to_string().contains(phrase), "{phrase:?} not in: {e}");
}

#[test]
fn huge_train_size_is_refused_before_any_allocation() {
    // Accepted before, then the engine allocated 65536 x 65536 floats (16 GiB) and aborted.
    let bytes = common::metadata_model(&[(keys::TRAIN_SIZE, "65536")]);
    assert!(bytes.len() < 600, "{} bytes", bytes.len());
    refused(&bytes, ErrorKind::ModelContract, "from 1 to 4096");
    let bytes = common::metadata_model(&[(keys::INPUT_SIZE, "8192")]);
    refused(&bytes, ErrorKind::ModelContract, "from 1 to 4096");
    let bytes = common::metadata_model(&[(keys::PAD_MULTIPLE, "4096")]);
    refused(&bytes, ErrorKind::ModelContract, "from 1 to 256");
    // The caps themselves load.
    let bytes = common::metadata_model(&[(keys::TRAIN_SIZE, "4096")]);
    assert_eq!(
        Model::from_bytes(&bytes, "cap")
            .unwrap()
            .contract()
            .train_size,
        4096
    );
}

#[test]
fn constant_of_shape_bomb_is_refused() {
    // A 4 GiB float constant: tract allocated it while analysing the graph (8 GB RSS).
    let bytes = common::constant_of_shape_model(&[1, 1, 32768, 32768]);
    assert!(bytes.len() < 1000, "{} bytes", bytes.len());
    refused(
        &bytes,
        ErrorKind::ModelContract,
        "(ConstantOfShape) computes a constant",
    );
    // The same graph with a small constant loads and runs.
    let bytes = common::constant_of_shape_model(&[1, 2, 1, 1]);
    let model = Model::from_bytes(&bytes, "small").unwrap();
    model
        .run_plane(vec![50.0; 64 * 64], 64, 64, Default::default(), 0.0)
        .unwrap();
}

#[test]
fn sizes_computed_from_the_input_shape_are_bounded_per_plan() {
    // ConstantOfShape(Shape(L) * 4096): folded by tract once the input size is known.
    let bytes = common::scaled_shape_model(4096);
    refused(
        &bytes,
        ErrorKind::ModelContract,
        "(ConstantOfShape) computes a constant",
    );
    // Zeros shaped like the input (a factor of 1) are the network's own scale: accepted,
    // and run.
    let model = Model::from_bytes(&common::scaled_shape_model(1), "zeros-like").unwrap();
    model
        .run_plane(vec![50.0; 48 * 40], 48, 40, Default::default(), 0.0)
        .unwrap();
}

#[test]
fn stored_tensors_must_hold_what_they_declare() {
    let bytes = common::lying_initializer_model(&[1024, 1024], 4);
    refused(&bytes, ErrorKind::ModelLoad, "holds 4 bytes");
    let bytes = common::lying_initializer_model(&[1 << 20, 1 << 20], 4);
    refused(&bytes, ErrorKind::ModelLoad, "over the limit");
    let bytes = common::lying_initializer_model(&[-1, 2], 4);
    refused(&bytes, ErrorKind::ModelLoad, "negative dimension");
}

#[test]
fn other_expanding_constants_are_bounded() {
    for op in ["Expand", "Tile", "Range"] {
        let bytes = common::expanding_constant_model(op, 1 << 16);
        refused(
            &bytes,
            ErrorKind::ModelContract,
            &format!("({op}) computes a constant"),
        );
        // The same node with a small size loads.
        let bytes = common::expanding_constant_model(op, 2);
        Model::from_bytes(&bytes, op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
}

#[test]
fn a_fifo_is_not_read_as_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("model.onnx");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        common::skip("mkfifo is not available");
        return;
    }
    // Opening a FIFO for reading blocks until a writer comes: run it aside, with a deadline.
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(Model::from_file(&fifo).map(|_| ())));
    let result = receive
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("loading a FIFO blocked");
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelLoad, "{e}");
    assert!(e.to_string().contains("not a regular file"), "{e}");
}
