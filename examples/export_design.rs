//! Exports the design matrix nsfsim's logistic regression trains on, so
//! scikit-learn can be timed on exactly the same data
//! (`benches/sklearn_logistic.py`).
//! `cargo run --release --example export_design -- DATA_DIR OUT.parquet [features]`

use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use nsfsim::data::features::FeatureSet;
use nsfsim::models::train::{PopulationRule, load_data};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(&args[0]);
    let out = std::path::PathBuf::from(&args[1]);
    let set = FeatureSet::parse(args.get(2).map(|s| s.as_str()).unwrap_or("full"))?;
    let data = load_data(&dir, &set.attributes()?)?;
    let mut fields: Vec<Field> = data
        .design
        .names
        .iter()
        .map(|n| Field::new(n, DataType::Float32, false))
        .collect();
    fields.push(Field::new("nsf", DataType::Boolean, false));
    fields.push(Field::new("train", DataType::Boolean, false));
    fields.push(Field::new("test_registered", DataType::Boolean, false));
    let schema = Arc::new(Schema::new(fields));
    let mut cols: Vec<ArrayRef> = (0..data.design.x.ncols())
        .map(|j| Arc::new(Float32Array::from(data.design.x.column(j).to_vec())) as ArrayRef)
        .collect();
    let hold: Vec<bool> = data.holdout.clone();
    cols.push(Arc::new(BooleanArray::from(data.nsf.clone())));
    cols.push(Arc::new(BooleanArray::from(
        hold.iter().map(|h| !h).collect::<Vec<_>>(),
    )));
    cols.push(Arc::new(BooleanArray::from(
        (0..data.rows())
            .map(|i| hold[i] && data.in_population(PopulationRule::Registered, i))
            .collect::<Vec<_>>(),
    )));
    let batch = RecordBatch::try_new(schema.clone(), cols)?;
    let file = std::fs::File::create(&out)?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
    w.write(&batch)?;
    w.close()?;
    println!(
        "wrote {} rows × {} features to {}",
        data.rows(),
        data.design.x.ncols(),
        out.display()
    );
    Ok(())
}
